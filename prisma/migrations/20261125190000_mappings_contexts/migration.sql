-- CreateTable
CREATE TABLE "mapping_versions" (
    "id" UUID NOT NULL,
    "source_id" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "document" JSONB NOT NULL,
    "created_by" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "mapping_versions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "contexts" (
    "context_type" TEXT NOT NULL,
    "context_id" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "source_id" UUID NOT NULL,
    "entity" TEXT NOT NULL,
    "position" DECIMAL(30,0) NOT NULL DEFAULT 0,
    "cursor" TEXT,
    "deleted" BOOLEAN NOT NULL DEFAULT false,
    "mapping_version" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "contexts_pkey" PRIMARY KEY ("context_type","context_id")
);

-- CreateTable
CREATE TABLE "snapshot_checkpoints" (
    "source_id" UUID NOT NULL,
    "entity" TEXT NOT NULL,
    "last_key" TEXT[],
    "rows_done" BIGINT NOT NULL DEFAULT 0,
    "done" BOOLEAN NOT NULL DEFAULT false,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "snapshot_checkpoints_pkey" PRIMARY KEY ("source_id","entity")
);

-- CreateIndex
CREATE UNIQUE INDEX "mapping_versions_source_id_version_key" ON "mapping_versions"("source_id", "version");

-- CreateIndex
CREATE INDEX "contexts_source_id_entity_idx" ON "contexts"("source_id", "entity");

-- AddForeignKey
ALTER TABLE "mapping_versions" ADD CONSTRAINT "mapping_versions_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "sources"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "snapshot_checkpoints" ADD CONSTRAINT "snapshot_checkpoints_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "sources"("id") ON DELETE CASCADE ON UPDATE CASCADE;
