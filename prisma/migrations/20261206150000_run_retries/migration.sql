-- AlterTable
ALTER TABLE "runs" ADD COLUMN     "next_retry_at" TIMESTAMPTZ(6),
ADD COLUMN     "retry_attempt" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "snapshot_checkpoints" ADD COLUMN     "dead_done" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "written_done" BIGINT NOT NULL DEFAULT 0;
