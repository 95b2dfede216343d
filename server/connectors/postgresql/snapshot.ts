// Chunked reads, one chunk (batch_size rows) at a time, each chunk one
// `COPY (SELECT … WHERE order > last ORDER BY order LIMIT n) TO STDOUT`: a snapshot in primary-key
// order, or an incremental pass in (cursor, key) order within its bounds (ReadPlan). Keyset
// pagination keeps every chunk an index range scan, COPY keeps the wire format cheap, and memory
// stays one chunk. Each chunk's last position (its text form) is what a caller checkpoints to
// resume after a crash.
import { rowFactory } from "../../json/safe.ts";
import type pg from "pg";
import copyStreams from "pg-copy-streams";
import { AppError } from "../../errors/app-error.ts";
import type { SnapshotChunk, SourceRecord } from "../types.ts";
import type { DescribedEntity } from "./catalog.ts";
import { CopyTextDecoder } from "./copy-text.ts";
import { prefetch } from "../prefetch.ts";
import type { ValueParsers } from "./values.ts";


export function requireKey(entity: DescribedEntity): string[] {
  if (entity.kind === "view" || entity.kind === "materialized_view" || entity.primary_key.length === 0) {
    throw new AppError(
      "BAD_REQUEST",
      `${entity.name} has no primary key: snapshots read in key order so they can resume, and changes are matched by key. ` +
        `Add a primary key to ${entity.name} (views cannot be snapshotted).`,
      { category: "CONFIGURATION" },
    );
  }
  return entity.primary_key;
}

/**
 * What a chunked read returns, in which order: every row in key order (a snapshot), or the rows
 * whose first cursor column lies in (lower, upper], in cursor-then-key order (incremental sync).
 */
export type ReadPlan = { order: string[]; range?: { column: string; lower: string | null; upper: string } };

function chunkSql(client: pg.Client, entity: DescribedEntity, plan: ReadPlan, after: string[] | null, limit: number): string {
  const q = (id: string) => client.escapeIdentifier(id);
  const typeOf = new Map(entity.columns.map((c) => [c.name, c.type]));
  // COPY takes no bind parameters: values are written as escaped literals cast to the column's
  // own type (identifiers come from the catalog and are quoted).
  const literal = (value: string, column: string) => `${client.escapeLiteral(value)}::${typeOf.get(column)}`;
  const cols = entity.columns.map((c) => q(c.name)).join(", ");
  const orderList = plan.order.map(q).join(", ");
  const where: string[] = [];
  if (plan.range) {
    const { column, lower, upper } = plan.range;
    where.push(`${q(column)} <= ${literal(upper, column)}`);
    if (lower !== null) where.push(`${q(column)} > ${literal(lower, column)}`);
  }
  if (after) where.push(`(${orderList}) > (${after.map((v, i) => literal(v, plan.order[i]!)).join(", ")})`);
  return `COPY (SELECT ${cols} FROM ${q(entity.schema)}.${q(entity.table)}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY ${orderList} LIMIT ${limit}) TO STDOUT`;
}

async function readChunk(client: pg.Client, sql: string): Promise<(string | null)[][]> {
  const stream = client.query(copyStreams.to(sql));
  const decoder = new CopyTextDecoder();
  const rows: (string | null)[][] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) for (const row of decoder.push(chunk)) rows.push(row);
  decoder.end();
  return rows;
}

export async function* readSnapshot(
  client: pg.Client,
  entity: DescribedEntity,
  parsers: ValueParsers,
  opts: { batchSize: number; afterKey?: string[] | null; limit?: number; plan?: ReadPlan },
): AsyncGenerator<SnapshotChunk> {
  const key = requireKey(entity);
  const plan = opts.plan ?? { order: key };
  const keyIndex = key.map((k) => entity.columns.findIndex((c) => c.name === k));
  // Where a chunk resumes: its last row's values of the order's columns (the key, for a snapshot).
  const orderIndex = plan.order.map((k) => entity.columns.findIndex((c) => c.name === k));
  const columnParsers = entity.columns.map((c) => parsers.parser(c.type_oid));
  const names = entity.columns.map((c) => c.name);
  const newRow = rowFactory<SourceRecord[string]>(names);
  let remaining = opts.limit ?? Infinity;
  const fetch = (after: string[] | null) => {
    const size = Math.min(opts.batchSize, remaining);
    return { size, rows: prefetch(readChunk(client, chunkSql(client, entity, plan, after, size))) };
  };

  // The next chunk is requested as soon as this one's last key is known, so the server produces
  // it while this one is parsed and consumed: at most two chunks in memory.
  let pending: ReturnType<typeof fetch> | null = remaining > 0 ? fetch(opts.afterKey ?? null) : null;
  try {
    while (pending) {
      const { size, rows } = pending;
      const raw = await rows;
      pending = null;
      if (!raw.length) return;
      const lastKey = orderIndex.map((i) => raw[raw.length - 1]![i]!);
      remaining -= raw.length;
      if (raw.length === size && remaining > 0) pending = fetch(lastKey);

      const records: SourceRecord[] = new Array(raw.length);
      const keys: string[][] = new Array(raw.length);
      for (let r = 0; r < raw.length; r++) {
        const fields = raw[r]!;
        const record: SourceRecord = newRow();
        for (let i = 0; i < fields.length; i++) {
          const value = fields[i]!;
          record[names[i]!] = value === null ? null : columnParsers[i]!(value);
        }
        records[r] = record;
        const key: string[] = new Array(keyIndex.length);
        for (let k = 0; k < keyIndex.length; k++) key[k] = fields[keyIndex[k]!]!;
        keys[r] = key;
      }
      yield { records, keys, key_columns: entity.primary_key, resume_after: lastKey }; // resume after the last row's order values (their text form)
    }
  } finally {
    // A consumer that stops early must not leave a COPY running on the shared connection.
    await pending?.rows.catch(() => {});
  }
}

/** Current rows for these keys (text form), keyed by JSON of the key; absent keys are missing from the map. */
export async function readByKeys(client: pg.Client, entity: DescribedEntity, parsers: ValueParsers, keys: string[][]): Promise<Map<string, SourceRecord>> {
  const key = requireKey(entity);
  const q = (id: string) => client.escapeIdentifier(id);
  const typeOf = new Map(entity.columns.map((c) => [c.name, c.type]));
  const keyIndex = key.map((k) => entity.columns.findIndex((c) => c.name === k));
  const columnParsers = entity.columns.map((c) => parsers.parser(c.type_oid));
  const names = entity.columns.map((c) => c.name);
  const newRow = rowFactory<SourceRecord[string]>(names);
  const out = new Map<string, SourceRecord>();
  for (let start = 0; start < keys.length; start += 500) {
    const tuples = keys
      .slice(start, start + 500)
      .map((k) => `(${k.map((v, i) => `${client.escapeLiteral(v)}::${typeOf.get(key[i]!)}`).join(", ")})`)
      .join(", ");
    const sql = `COPY (SELECT ${names.map(q).join(", ")} FROM ${q(entity.schema)}.${q(entity.table)} WHERE (${key.map(q).join(", ")}) IN (${tuples})) TO STDOUT`;
    for (const fields of await readChunk(client, sql)) {
      const record: SourceRecord = newRow();
      fields.forEach((raw, i) => (record[names[i]!] = raw === null ? null : columnParsers[i]!(raw)));
      out.set(JSON.stringify(keyIndex.map((i) => fields[i]!)), record);
    }
  }
  return out;
}

/**
 * Which of these keys (text form) name a row now, matched by value (each text cast to its key
 * column's type, bound as parameters), as the JSON of each asked key that does; reads the key
 * columns only.
 */
export async function existingKeys(client: pg.Client, entity: DescribedEntity, keys: string[][]): Promise<Set<string>> {
  const key = requireKey(entity);
  const q = (id: string) => client.escapeIdentifier(id);
  const typeOf = new Map(entity.columns.map((c) => [c.name, c.type]));
  const found = new Set<string>();
  const asked = key.map((_, i) => `$${i + 1}::text[]`).join(", ");
  const sql =
    `SELECT ${key.map((_, i) => `k.c${i}`).join(", ")} FROM unnest(${asked}) AS k(${key.map((_, i) => `c${i}`).join(", ")}) ` +
    `WHERE EXISTS (SELECT 1 FROM ${q(entity.schema)}.${q(entity.table)} t WHERE ${key.map((k, i) => `t.${q(k)} = k.c${i}::${typeOf.get(k)}`).join(" AND ")})`;
  for (let start = 0; start < keys.length; start += 1000) {
    const part = keys.slice(start, start + 1000);
    const { rows } = await client.query<string[]>({ text: sql, values: key.map((_, i) => part.map((k) => k[i] ?? null)), rowMode: "array" });
    for (const row of rows) found.add(JSON.stringify(row));
  }
  return found;
}
