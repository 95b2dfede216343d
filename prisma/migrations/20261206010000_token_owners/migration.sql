-- AlterTable
ALTER TABLE "api_tokens" ADD COLUMN     "owner_env_hash" TEXT;
