-- AlterTable
ALTER TABLE "dead_letters" ADD COLUMN     "key_columns" TEXT[] DEFAULT ARRAY[]::TEXT[];
