-- AlterTable
ALTER TABLE "contexts" ADD COLUMN     "generation" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "snapshot_pass" BIGINT;

-- AlterTable
ALTER TABLE "dead_letters" ADD COLUMN     "generation" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "snapshot" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "snapshot_checkpoints" ADD COLUMN     "floor_position" DECIMAL(30,0) NOT NULL DEFAULT 0,
ADD COLUMN     "pass" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "generation" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "run_id" UUID,
ADD COLUMN     "truncated_position" DECIMAL(30,0);

-- AlterTable
ALTER TABLE "sources" ADD COLUMN     "pass_seq" BIGINT NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "streams" ADD COLUMN     "capture_broken" TEXT,
ADD COLUMN     "capture_server" TEXT,
ADD COLUMN     "capture_start" TEXT,
ADD COLUMN     "generation" INTEGER NOT NULL DEFAULT 0;

-- Existing dead letters: every connector before this migration was PostgreSQL, whose snapshot rows
-- had positions with the low 32 bits at zero (the last place that rule is read).
UPDATE "dead_letters" SET "snapshot" = (mod("position", 4294967296) = 0);
