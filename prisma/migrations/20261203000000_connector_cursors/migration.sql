-- Cursors are the connector's own text (opaque to the pipeline): PostgreSQL's "X/Y" becomes
-- "pg_lsn:X/Y", as the API already showed it. Every source so far is a PostgreSQL source.
ALTER TABLE "snapshot_checkpoints" RENAME COLUMN "snapshot_lsn" TO "floor_cursor";
UPDATE "snapshot_checkpoints" SET "floor_cursor" = 'pg_lsn:' || "floor_cursor" WHERE "floor_cursor" IS NOT NULL AND "floor_cursor" NOT LIKE '%:%';
UPDATE "streams" SET "cursor" = 'pg_lsn:' || "cursor" WHERE "cursor" IS NOT NULL AND "cursor" NOT LIKE '%:%';
