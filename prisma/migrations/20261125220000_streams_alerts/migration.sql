-- CreateTable
CREATE TABLE "streams" (
    "source_id" UUID NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT false,
    "cursor" TEXT,
    "cursor_updated_at" TIMESTAMPTZ(6),
    "batch_size" INTEGER NOT NULL DEFAULT 1000,
    "include_operations" TEXT[] DEFAULT ARRAY['insert', 'update', 'delete']::TEXT[],
    "run_id" UUID,
    "lease_owner" TEXT,
    "lease_token" BIGINT NOT NULL DEFAULT 0,
    "lease_expires_at" TIMESTAMPTZ(6),
    "status" TEXT NOT NULL DEFAULT 'stopped',
    "error" TEXT,
    "error_category" TEXT,
    "retry_attempt" INTEGER NOT NULL DEFAULT 0,
    "next_retry_at" TIMESTAMPTZ(6),
    "paused_entities" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "schema_policy" TEXT NOT NULL DEFAULT 'continue',
    "known_schemas" JSONB NOT NULL DEFAULT '{}',
    "pending_schema" JSONB,
    "slot_state" JSONB NOT NULL DEFAULT '{}',
    "last_commit_at" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "streams_pkey" PRIMARY KEY ("source_id")
);

-- CreateTable
CREATE TABLE "alerts" (
    "id" UUID NOT NULL,
    "source_id" UUID,
    "run_id" UUID,
    "category" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "hint" TEXT,
    "status" TEXT NOT NULL DEFAULT 'open',
    "delivery_attempts" INTEGER NOT NULL DEFAULT 0,
    "delivered_at" TIMESTAMPTZ(6),
    "delivery_error" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolved_at" TIMESTAMPTZ(6),

    CONSTRAINT "alerts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "alerts_status_created_at_idx" ON "alerts"("status", "created_at");

-- CreateIndex
CREATE INDEX "alerts_source_id_created_at_idx" ON "alerts"("source_id", "created_at");

-- AddForeignKey
ALTER TABLE "streams" ADD CONSTRAINT "streams_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "sources"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "sources"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AlterTable
ALTER TABLE "snapshot_checkpoints" ADD COLUMN     "snapshot_lsn" TEXT;
