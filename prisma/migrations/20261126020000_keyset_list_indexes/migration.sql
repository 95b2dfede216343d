-- DropIndex
DROP INDEX "alerts_source_id_created_at_idx";

-- DropIndex
DROP INDEX "alerts_status_created_at_idx";

-- DropIndex
DROP INDEX "dead_letters_source_id_status_created_at_idx";

-- DropIndex
DROP INDEX "dead_letters_status_created_at_idx";

-- CreateIndex
CREATE INDEX "alerts_status_created_at_id_idx" ON "alerts"("status", "created_at", "id");

-- CreateIndex
CREATE INDEX "alerts_source_id_created_at_id_idx" ON "alerts"("source_id", "created_at", "id");

-- CreateIndex
CREATE INDEX "dead_letters_status_created_at_id_idx" ON "dead_letters"("status", "created_at", "id");

-- CreateIndex
CREATE INDEX "dead_letters_source_id_status_created_at_id_idx" ON "dead_letters"("source_id", "status", "created_at", "id");

-- CreateIndex
CREATE INDEX "dead_letters_source_id_created_at_id_idx" ON "dead_letters"("source_id", "created_at", "id");
