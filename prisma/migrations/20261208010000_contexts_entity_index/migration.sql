-- An entity's contexts are found by (source_id, entity) alone, an index B-tree deduplication keeps
-- small: every context written maintained a second unique-per-row entry before, about a fifth of
-- what an insert costs the store (docs/performance.md). A reconcile walks the entity's contexts in
-- id order through the primary key, one context type at a time (store/contexts.ts, keyedContexts).
-- DropIndex
DROP INDEX "contexts_source_id_entity_context_type_context_id_idx";

-- CreateIndex
CREATE INDEX "contexts_source_id_entity_idx" ON "contexts"("source_id", "entity");
