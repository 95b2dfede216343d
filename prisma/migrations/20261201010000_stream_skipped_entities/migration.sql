-- AlterTable
ALTER TABLE "streams" ADD COLUMN     "skipped_entities" TEXT[] DEFAULT ARRAY[]::TEXT[];
