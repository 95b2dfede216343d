-- CreateTable
CREATE TABLE "dead_letters" (
    "id" UUID NOT NULL,
    "source_id" UUID NOT NULL,
    "run_id" UUID,
    "entity" TEXT NOT NULL,
    "context_type" TEXT NOT NULL,
    "key" TEXT[],
    "record_key" TEXT NOT NULL,
    "cursor" TEXT,
    "position" DECIMAL(30,0) NOT NULL DEFAULT 0,
    "category" TEXT NOT NULL,
    "error" JSONB NOT NULL,
    "payload" JSONB NOT NULL,
    "mapping_version" INTEGER NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 1,
    "status" TEXT NOT NULL DEFAULT 'open',
    "outcome" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolved_at" TIMESTAMPTZ(6),

    CONSTRAINT "dead_letters_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "dead_letters_status_created_at_idx" ON "dead_letters"("status", "created_at");

-- CreateIndex
CREATE INDEX "dead_letters_source_id_status_created_at_idx" ON "dead_letters"("source_id", "status", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "dead_letters_source_id_entity_context_type_record_key_key" ON "dead_letters"("source_id", "entity", "context_type", "record_key");

-- AddForeignKey
ALTER TABLE "dead_letters" ADD CONSTRAINT "dead_letters_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "sources"("id") ON DELETE CASCADE ON UPDATE CASCADE;
