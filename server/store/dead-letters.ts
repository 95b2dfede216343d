// Dead letters: records that failed with a DATA error, kept with their payload for replay.
import type pg from "pg";
import { pgPool } from "../db.ts";
import { neutralizeUnstorableEscapes } from "../json/safe.ts";
import type { StoreOrder } from "./contexts.ts";

export type NewDeadLetter = {
  entity: string;
  context_type: string;
  key: string[];
  /** The key's column names (a secret-looking one's value is shown redacted). */
  key_columns: readonly string[];
  cursor: string | null;
  position: bigint;
  category: "DATA";
  error: { message: string; code?: string; field?: string | null; transform?: string | null };
  payload: object;
};

export type DeadLetterRow = {
  id: string;
  source_id: string;
  run_id: string | null;
  entity: string;
  context_type: string;
  key: string[];
  key_columns: string[];
  cursor: string | null;
  generation: number;
  position: string;
  snapshot: boolean;
  category: string;
  error: NewDeadLetter["error"];
  payload: Record<string, unknown>;
  mapping_version: number;
  attempts: number;
  status: "open" | "replayed" | "discarded";
  outcome: string | null;
  created_at: string;
  updated_at: string;
  resolved_at: string | null;
};

const ts = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${col}`;
const COLUMNS = `id::text, source_id::text, run_id::text, entity, context_type, key, key_columns, cursor, generation, position::text, snapshot, category, error, payload,
  mapping_version, attempts, status, outcome, ${ts("created_at")}, ${ts("updated_at")}, ${ts("resolved_at")}`;

/**
 * Records failed records (in the caller's transaction). A record already dead-lettered is updated
 * and its attempts counted. A record that failed twice in one batch (a bad row changed twice) is
 * one dead letter, with its last failure: one statement cannot touch a row twice.
 */
export async function recordDeadLetters(client: pg.ClientBase | pg.Pool, sourceId: string, runId: string | null, mappingVersion: number, order: StoreOrder, failed: NewDeadLetter[]) {
  if (!failed.length) return;
  const last = new Map<string, NewDeadLetter>();
  for (const d of failed) last.set(JSON.stringify([d.entity, d.context_type, d.key]), d);
  const rows = [...last.values()];
  await client.query(
    `INSERT INTO dead_letters AS d (id, source_id, run_id, entity, context_type, key, key_columns, record_key, cursor, generation, position, snapshot, category, error, payload, mapping_version)
     SELECT gen_random_uuid(), $1::uuid, $2::uuid, t.entity, t.context_type, ARRAY(SELECT json_array_elements_text(t.key::json)),
       ARRAY(SELECT json_array_elements_text(t.key_columns::json)), t.key, t.cursor, $12::int, t.position, $13::boolean, t.category, t.error, t.payload, $3
     FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::numeric[], $9::text[], $10::jsonb[], $11::jsonb[], $14::text[])
       AS t(entity, context_type, key, cursor, position, category, error, payload, key_columns)
     ON CONFLICT (source_id, entity, context_type, record_key) DO UPDATE SET
       attempts = d.attempts + 1, run_id = EXCLUDED.run_id, cursor = EXCLUDED.cursor, generation = EXCLUDED.generation, position = EXCLUDED.position,
       snapshot = EXCLUDED.snapshot, key_columns = EXCLUDED.key_columns, category = EXCLUDED.category, error = EXCLUDED.error, payload = EXCLUDED.payload, mapping_version = EXCLUDED.mapping_version,
       status = 'open', outcome = NULL, resolved_at = NULL, updated_at = now()
     -- A resolved letter reopens only for a failure newer than the one it resolved (a change
     -- redelivered after a restart is not), in the store's order.
     WHERE d.status = 'open' OR d.generation < EXCLUDED.generation OR (d.generation = EXCLUDED.generation AND d.position < EXCLUDED.position)`,
    [
      sourceId,
      runId,
      mappingVersion,
      rows.map((r) => r.entity),
      rows.map((r) => r.context_type),
      rows.map((r) => neutralizeUnstorableEscapes(JSON.stringify(r.key))),
      rows.map((r) => r.cursor),
      rows.map((r) => r.position.toString()),
      rows.map((r) => r.category),
      rows.map((r) => JSON.stringify(r.error)),
      rows.map((r) => neutralizeUnstorableEscapes(JSON.stringify(r.payload))),
      order.generation,
      order.snapshot,
      rows.map((r) => JSON.stringify(r.key_columns)),
    ],
  );
}

export type DeadLetterFilter = { source_id?: string; category?: string; status?: string; entity?: string; since?: string; until?: string };

function where(filter: DeadLetterFilter, params: unknown[]) {
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  const parts: string[] = [];
  if (filter.source_id) parts.push(`source_id = ${p(filter.source_id)}::uuid`);
  if (filter.category) parts.push(`category = ${p(filter.category)}`);
  if (filter.status) parts.push(`status = ${p(filter.status)}`);
  if (filter.entity) parts.push(`entity = ${p(filter.entity)}`);
  if (filter.since) parts.push(`created_at >= ${p(filter.since)}::timestamptz`);
  if (filter.until) parts.push(`created_at < ${p(filter.until)}::timestamptz`);
  return { parts, p };
}

/**
 * Newest first; the cursor is the last (created_at, id) seen, so every page is a range scan of a
 * (…, created_at, id) index. ORDER BY names the table's columns: the select list renames
 * created_at to its ISO text, and sorting by that text would sort every matching row.
 */
export async function listDeadLetters(filter: DeadLetterFilter, limit: number, after: [string, string] | null): Promise<DeadLetterRow[]> {
  const params: unknown[] = [];
  const { parts, p } = where(filter, params);
  if (after) parts.push(`(created_at, id) < (${p(after[0])}::timestamptz, ${p(after[1])}::uuid)`);
  const { rows } = await pgPool().query<DeadLetterRow>(
    `SELECT ${COLUMNS} FROM dead_letters ${parts.length ? `WHERE ${parts.join(" AND ")}` : ""} ORDER BY dead_letters.created_at DESC, dead_letters.id DESC LIMIT ${p(limit)}`,
    params,
  );
  return rows;
}

export async function idsMatching(filter: DeadLetterFilter, max: number): Promise<string[]> {
  const params: unknown[] = [];
  const { parts, p } = where(filter, params);
  const { rows } = await pgPool().query<{ id: string }>(
    `SELECT id::text FROM dead_letters ${parts.length ? `WHERE ${parts.join(" AND ")}` : ""} ORDER BY dead_letters.created_at, dead_letters.id LIMIT ${p(max)}`,
    params,
  );
  return rows.map((r) => r.id);
}

export async function getDeadLetters(ids: string[]): Promise<DeadLetterRow[]> {
  if (!ids.length) return [];
  const { rows } = await pgPool().query<DeadLetterRow>(`SELECT ${COLUMNS} FROM dead_letters WHERE id = ANY($1::uuid[]) ORDER BY dead_letters.created_at, dead_letters.id`, [ids]);
  return rows;
}

export async function resolveDeadLetter(client: pg.ClientBase | pg.Pool, id: string, status: "replayed" | "discarded", outcome: string) {
  const { rowCount } = await client.query(
    `UPDATE dead_letters SET status = $2, outcome = $3, resolved_at = now(), updated_at = now() WHERE id = $1 AND status = 'open'`,
    [id, status, outcome],
  );
  return rowCount === 1;
}

export async function countOpen(sourceId?: string): Promise<number> {
  const { rows } = await pgPool().query<{ n: number }>(
    `SELECT count(*)::int AS n FROM dead_letters WHERE status = 'open'${sourceId ? " AND source_id = $1::uuid" : ""}`,
    sourceId ? [sourceId] : [],
  );
  return rows[0]!.n;
}
