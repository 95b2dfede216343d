// Keyset pagination: `SELECT … WHERE order > last ORDER BY order LIMIT n` over the primary key (a
// snapshot) or over (cursor, key) within a pass's bounds (incremental sync, ReadPlan), the next
// page asked for as soon as one arrives (the server reads it while this one is mapped).
// Every value comes as the server's text made into a string or an exact number (or as its bytes)
// and is decoded by its column's rule (values.ts). A key is kept in its text form (keyText), which
// binds back to the same value (bindKey).
import type mysql from "mysql2/promise";
import { AppError } from "../../errors/app-error.ts";
import type { JsonValue, SnapshotChunk, SourceRecord } from "../types.ts";
import { q, type DescribedEntity } from "./catalog.ts";
import { needsBytes, TEXT_AS_VALUES, type RowValue } from "./values.ts";
import { prefetch } from "../prefetch.ts";
import { rowFactory } from "../../json/safe.ts";

/** A query's options reading rows of `entity` as RowValues (arrays in column order). */
const rowOptions = (entity: DescribedEntity) => ({ rowsAsArray: true, ...(needsBytes(entity.mysqlColumns) ? { typeCast: false } : TEXT_AS_VALUES) });

/** A key value's text form (what dead letters keep, chunks resume after and rowsByKey takes). */
export function keyText(value: JsonValue): string {
  if (Array.isArray(value)) return value.join(",");
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** A key's text form as a value bound in SQL for its column. */
function bindKey(entity: DescribedEntity, column: string, text: string): unknown {
  const i = entity.columns.findIndex((c) => c.name === column);
  const kind = entity.columns[i]?.kind;
  if (kind === "bytes") return Buffer.from(text, "base64");
  if (kind === "time") return text.replace("T", " ").replace(/Z$/, "");
  return text;
}

function requireKey(entity: DescribedEntity): string[] {
  if (!entity.primary_key.length) {
    throw new AppError("BAD_REQUEST", `${entity.name} has no primary key: a resumable snapshot reads in key order. Add a primary key to the table.`, { category: "CONFIGURATION" });
  }
  return entity.primary_key;
}

/** `(k1 > ?) OR (k1 = ? AND k2 > ?) …`: rows after `after` in that column order (an index range on InnoDB's clustered key, for the key). */
function after(entity: DescribedEntity, key: string[], values: string[]) {
  const parts: string[] = [];
  const params: unknown[] = [];
  for (let i = 0; i < key.length; i++) {
    const eq = key.slice(0, i).map((k, j) => (params.push(bindKey(entity, k, values[j]!)), `${q(k)} = ?`));
    params.push(bindKey(entity, key[i]!, values[i]!));
    parts.push(`(${[...eq, `${q(key[i]!)} > ?`].join(" AND ")})`);
  }
  return { sql: parts.join(" OR "), params };
}

/**
 * Decodes the entity's rows (arrays in column order) into records. Rows are plain objects where no
 * column is called __proto__ (rowFactory): V8 keeps them in its fast shape, where a null-prototype
 * object starts as a dictionary, several times the memory for the collector to walk while a chunk
 * of thousands waits to commit. Made once per read, not per row.
 */
export function rowDecoder(entity: DescribedEntity): (raw: (RowValue | null)[]) => SourceRecord {
  const newRow = rowFactory<SourceRecord[string]>(entity.columns.map((c) => c.name));
  return (raw) => {
    const record = newRow();
    for (let i = 0; i < raw.length; i++) {
      const v = raw[i];
      record[entity.columns[i]!.name] = v === null || v === undefined ? null : entity.decoders[i]!.fromText(v);
    }
    return record;
  };
}

/**
 * What a chunked read returns, in which order: every row in key order (a snapshot), or the rows
 * whose first cursor column lies in (lower, upper], in cursor-then-key order (incremental sync).
 */
export type ReadPlan = { order: string[]; range?: { column: string; lower: string | null; upper: string } };

export async function* readSnapshot(
  c: mysql.Connection,
  database: string,
  entity: DescribedEntity,
  opts: { batchSize: number; afterKey: string[] | null; limit?: number; plan?: ReadPlan },
): AsyncGenerator<SnapshotChunk> {
  const decode = rowDecoder(entity);
  const key = requireKey(entity);
  const plan = opts.plan ?? { order: key };
  const cols = entity.columns.map((col) => q(col.name)).join(", ");
  const options = rowOptions(entity);
  let remaining = opts.limit ?? Infinity;
  const fetch = (last: string[] | null) => {
    const size = Math.min(opts.batchSize, remaining);
    const where: string[] = [];
    const values: unknown[] = [];
    if (plan.range) {
      const { column, lower, upper } = plan.range;
      where.push(`${q(column)} <= ?`);
      values.push(bindKey(entity, column, upper));
      if (lower !== null) {
        where.push(`${q(column)} > ?`);
        values.push(bindKey(entity, column, lower));
      }
    }
    if (last) {
      const rest = after(entity, plan.order, last);
      where.push(`(${rest.sql})`);
      values.push(...rest.params);
    }
    const sql = `SELECT ${cols} FROM ${q(database)}.${q(entity.table)}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY ${plan.order.map(q).join(", ")} LIMIT ${size}`;
    return { size, rows: prefetch(c.query({ sql, values, ...options }).then(([rows]) => rows as unknown as (RowValue | null)[][])) };
  };
  let pending: ReturnType<typeof fetch> | null = remaining > 0 ? fetch(opts.afterKey) : null;
  try {
    while (pending) {
      const { size, rows: next } = pending;
      // The page's buffers are garbage once decoded (not held across the yield, so a page being
      // mapped or written does not keep them alive into the old generation).
      const records = (await next).map(decode);
      pending = null;
      if (!records.length) return;
      remaining -= records.length;
      const keys = records.map((r) => key.map((k) => keyText(r[k] ?? null)));
      // Where the next page starts: the last row's values of the order's columns (the key, for a snapshot).
      const last = records[records.length - 1]!;
      const resumeAfter = plan.order.map((k) => keyText(last[k] ?? null));
      if (records.length === size && remaining > 0) pending = fetch(resumeAfter);
      yield { records, keys, key_columns: key, resume_after: resumeAfter };
    }
  } finally {
    // A consumer that stops early leaves a prefetched page: wait it out so the connection is free.
    await pending?.rows.catch(() => {});
  }
}

/** Current rows for these keys (text form), keyed by JSON of the key; absent keys are missing from the map. */
export async function readByKeys(c: mysql.Connection, database: string, entity: DescribedEntity, keys: string[][]): Promise<Map<string, SourceRecord>> {
  const key = requireKey(entity);
  const decode = rowDecoder(entity);
  const cols = entity.columns.map((col) => q(col.name)).join(", ");
  const out = new Map<string, SourceRecord>();
  for (let start = 0; start < keys.length; start += 500) {
    const part = keys.slice(start, start + 500);
    const params: unknown[] = [];
    const tuples = part.map((k) => `(${key.map((col, i) => (params.push(bindKey(entity, col, k[i] ?? "")), "?")).join(", ")})`);
    const [rows] = await c.query({ sql: `SELECT ${cols} FROM ${q(database)}.${q(entity.table)} WHERE (${key.map(q).join(", ")}) IN (${tuples.join(", ")})`, values: params, ...rowOptions(entity) });
    for (const raw of rows as unknown as (RowValue | null)[][]) {
      const record = decode(raw);
      out.set(JSON.stringify(key.map((k) => keyText(record[k] ?? null))), record);
    }
  }
  return out;
}

/** Key column types whose text form does not bind back to the stored value (a float's decimal digits, BIT's bits). */
const UNMATCHABLE_KEY_TYPES = /^(float|double|real|bit)\b/i;

/**
 * Which of these keys (text form) name a row now, matched by value (bound as parameters, compared
 * in the key columns' types and collations), as the JSON of each asked key that does; reads the
 * key columns only. Null for a key whose values cannot be matched (floating point, BIT).
 */
export async function existingKeys(c: mysql.Connection, database: string, entity: DescribedEntity, keys: string[][]): Promise<Set<string> | null> {
  const key = requireKey(entity);
  if (key.some((k) => UNMATCHABLE_KEY_TYPES.test(entity.columns.find((col) => col.name === k)?.type ?? ""))) return null;
  const found = new Set<string>();
  for (let start = 0; start < keys.length; start += 500) {
    const part = keys.slice(start, start + 500);
    const params: unknown[] = [];
    // The asked keys as a derived table (n: their place in `part`), each kept where a row has its values.
    const asked = part.map((k, n) => `SELECT ${n} AS n, ${key.map((col, i) => (params.push(bindKey(entity, col, k[i] ?? "")), `? AS c${i}`)).join(", ")}`).join(" UNION ALL ");
    const match = key.map((col, i) => `t.${q(col)} = k.c${i}`).join(" AND ");
    const [rows] = await c.query({ sql: `SELECT k.n FROM (${asked}) AS k WHERE EXISTS (SELECT 1 FROM ${q(database)}.${q(entity.table)} AS t WHERE ${match})`, values: params });
    for (const row of rows as { n: number | string }[]) found.add(JSON.stringify(part[Number(row.n)]));
  }
  return found;
}
