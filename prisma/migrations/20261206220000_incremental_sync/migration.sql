-- AlterTable
ALTER TABLE "snapshot_checkpoints" ADD COLUMN     "pass_range" JSONB,
ADD COLUMN     "watermark" JSONB;

-- AlterTable
ALTER TABLE "sources" ADD COLUMN     "schedule_paused" BOOLEAN NOT NULL DEFAULT false;
