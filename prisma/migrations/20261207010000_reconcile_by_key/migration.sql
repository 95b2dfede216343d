-- A reconcile (docs/incremental.md) walks an entity's contexts in id order and asks the source whether
-- each one's row (source_key) still exists.
-- DropIndex
DROP INDEX "contexts_source_id_entity_idx";

-- AlterTable
ALTER TABLE "contexts" ADD COLUMN     "source_key" TEXT;

-- CreateIndex
CREATE INDEX "contexts_source_id_entity_context_type_context_id_idx" ON "contexts"("source_id", "entity", "context_type", "context_id");
