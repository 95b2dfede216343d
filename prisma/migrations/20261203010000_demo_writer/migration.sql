-- AlterTable
ALTER TABLE "sources" ADD COLUMN     "demo_writer" BOOLEAN NOT NULL DEFAULT false;
