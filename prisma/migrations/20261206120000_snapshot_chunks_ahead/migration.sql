-- Snapshot chunks commit several at once: those committed beyond the contiguous checkpoint.
ALTER TABLE "snapshot_checkpoints" ADD COLUMN     "ahead" JSONB NOT NULL DEFAULT '[]';
