// The context store's bulk writes. One statement per batch: rows arrive as arrays (unnest), are
// upserted on (context_type, context_id), and apply only where they are newer:
//   snapshot rows (position 0) never overwrite a row written by the change stream (position > 0);
//   stream rows apply only when their position is greater than the stored one.
// Replaying a batch therefore changes nothing, and an older change never overwrites a newer one.
// Rows whose id is already held by another entity or source are not written but reported.
import type pg from "pg";
import type { JsonValue } from "../connectors/types.ts";
import { pgPool } from "../db.ts";

export type ContextWrite = {
  context_type: string;
  context_id: string;
  data: Record<string, JsonValue> | null;
  entity: string;
  /** 0n for snapshot rows; commit LSN × 2^32 + index in the transaction for changes. */
  position: bigint;
  cursor: string | null;
  deleted: boolean;
};

export type WriteResult = {
  written: number;
  collisions: { context_type: string; context_id: string; held_by: string }[];
  /** Rows the store cannot hold, with why (a DATA error for that record). */
  rejected: { context_type: string; context_id: string; message: string }[];
};

const UPSERT_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::numeric[], $6::text[], $7::boolean[])
    AS t(context_type, context_id, data, entity, position, cursor, deleted)
),
collisions AS (
  SELECT i.context_type, i.context_id, c.entity AS held_by
  FROM input i JOIN contexts c USING (context_type, context_id)
  WHERE c.entity <> i.entity OR c.source_id <> $8::uuid
),
written AS (
  INSERT INTO contexts AS c (context_type, context_id, data, source_id, entity, position, cursor, deleted, mapping_version, created_at, updated_at)
  SELECT context_type, context_id, coalesce(data, '{}'::jsonb), $8::uuid, entity, position, cursor, deleted, $9::int, now(), now() FROM input
  ON CONFLICT (context_type, context_id) DO UPDATE SET
    data = CASE WHEN EXCLUDED.deleted THEN c.data ELSE EXCLUDED.data END,
    position = EXCLUDED.position, cursor = EXCLUDED.cursor, deleted = EXCLUDED.deleted,
    mapping_version = EXCLUDED.mapping_version, updated_at = now()
  WHERE c.entity = EXCLUDED.entity AND c.source_id = EXCLUDED.source_id
    AND (CASE WHEN EXCLUDED.position = 0 THEN c.position = 0 ELSE c.position < EXCLUDED.position END)
    AND (c.data IS DISTINCT FROM EXCLUDED.data OR c.deleted IS DISTINCT FROM EXCLUDED.deleted OR c.position <> EXCLUDED.position)
  RETURNING 1
)
SELECT (SELECT count(*)::int FROM written) AS written,
       (SELECT coalesce(json_agg(collisions), '[]') FROM collisions) AS collisions`;

/** Writes a batch with `client` (pass a transaction's client to commit it with a checkpoint). */
export async function writeContexts(client: pg.ClientBase | pg.Pool, sourceId: string, mappingVersion: number, rows: ContextWrite[]): Promise<WriteResult> {
  const rejected: WriteResult["rejected"] = [];
  // One row per key per statement (ON CONFLICT cannot touch a row twice): the last one wins,
  // as it would have if written one after another.
  const byKey = new Map<string, ContextWrite & { json: string | null }>();
  for (const r of rows) {
    const json = r.data === null ? null : JSON.stringify(r.data);
    // jsonb cannot hold U+0000 (json text from the source can): refuse that record, not the batch.
    if (json?.includes("\\u0000") || r.context_id.includes("\u0000")) {
      rejected.push({ context_type: r.context_type, context_id: r.context_id.replaceAll("\u0000", "\\u0000"), message: "contains \\u0000, which PostgreSQL jsonb cannot store" });
      continue;
    }
    byKey.set(`${r.context_type}\u0000${r.context_id}`, { ...r, json });
  }
  const batch = [...byKey.values()];
  if (!batch.length) return { written: 0, collisions: [], rejected };
  const { rows: out } = await client.query<{ written: number; collisions: WriteResult["collisions"] }>(UPSERT_SQL, [
    batch.map((r) => r.context_type),
    batch.map((r) => r.context_id),
    batch.map((r) => r.json),
    batch.map((r) => r.entity),
    batch.map((r) => r.position.toString()),
    batch.map((r) => r.cursor),
    batch.map((r) => r.deleted),
    sourceId,
    mappingVersion,
  ]);
  return { ...out[0]!, rejected };
}

export type StoredContext = {
  context_type: string;
  context_id: string;
  data: Record<string, JsonValue>;
  source_id: string;
  entity: string;
  cursor: string | null;
  deleted: boolean;
  mapping_version: number;
  updated_at: string;
};

const COLUMNS = `context_type, context_id, data, source_id::text, entity, cursor, deleted, mapping_version, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at`;

export async function getContext(contextType: string, contextId: string): Promise<StoredContext | null> {
  const { rows } = await pgPool().query<StoredContext>(`SELECT ${COLUMNS} FROM contexts WHERE context_type = $1 AND context_id = $2`, [contextType, contextId]);
  return rows[0] ?? null;
}

/** A page in key order; the cursor is the last (context_type, context_id) seen. Uses the primary key index. */
export async function listContexts(opts: { contextType?: string; sourceId?: string; limit: number; after?: [string, string] | null; includeDeleted?: boolean }) {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  if (opts.contextType) where.push(`context_type = ${p(opts.contextType)}`);
  if (opts.sourceId) where.push(`source_id = ${p(opts.sourceId)}::uuid`);
  if (!opts.includeDeleted) where.push("NOT deleted");
  if (opts.after) where.push(`(context_type, context_id) > (${p(opts.after[0])}, ${p(opts.after[1])})`);
  const { rows } = await pgPool().query<StoredContext>(
    `SELECT ${COLUMNS} FROM contexts ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY context_type, context_id LIMIT ${p(opts.limit)}`,
    params,
  );
  return rows;
}
