// The context store's bulk writes. Rows new to the store are COPYed in (see InsertHint); all
// others are upserted on (context_type, context_id) in one statement per batch, and apply only
// where they are newer in the store's order (docs/lifecycle.md):
//   (generation, position): the generation counts the source's captures, the position is the
//   connector's order within one (opaque here: the connector makes every change it delivers after
//   a cursor greater than that cursor's order, CursorCodec.order);
//   a change applies when it is greater than what is stored;
//   a snapshot row (placed at a cursor's order, or at a pass number for a source without capture)
//   applies when what is stored is not greater, so a snapshot never overwrites a change made
//   after its read, a re-snapshot rewrites everything older, and a new generation everything of
//   the older ones.
// Replaying a batch therefore changes nothing, and an older change never overwrites a newer one.
// Rows whose id is already held by another entity or source are not written but reported.
import pg from "pg";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import copyStreams from "pg-copy-streams";
import type { JsonValue } from "../connectors/types.ts";
import { pgPool } from "../db.ts";
import { holdsUnstorable, own } from "../json/safe.ts";
import { cloneData, JsonText, serializeKeepingText, type JsonPieces } from "../json/json-text.ts";
import { boolArray, jsonbArray, textArray } from "../db/binary-arrays.ts";
import { CopyOut, copyText } from "./copy-out.ts";
import { CONTEXT_WRITING_RUN } from "./runs.ts";

const { Pool } = pg;

export type ContextWrite = {
  context_type: string;
  context_id: string;
  data: Record<string, JsonValue> | null;
  entity: string;
  /** The connector's order within the batch's generation (RowChange.order, CursorCodec.order). */
  position: bigint;
  cursor: string | null;
  deleted: boolean;
  /** The source row's key (text form): kept with the context, so a reconcile can ask whether its row still exists. */
  key?: string[] | null;
  /** Paths in `data` whose stored value is kept (fields built from unchanged TOAST columns). */
  keep?: string[][];
  /** `data` serialised ahead of its batch (serializeAhead): written as it is (`data` stays, unchanged: a merge of kept fields reads it). */
  json?: string | JsonPieces | null;
};

export type Collision = { context_type: string; context_id: string; held_by: string; held_by_source: string | null };

/** Where a batch stands in the store's order: its capture generation, and whether it is a snapshot's. */
export type StoreOrder = { generation: number; snapshot: boolean };

export type WriteOptions = StoreOrder & {
  /** Rows likely new to the store go in by COPY (needs a transaction's client). */
  hint?: InsertHint;
  /** The snapshot pass writing (stamped on its contexts, so its final sweep spares exactly them). */
  pass?: bigint | null;
};

export type WriteResult = {
  written: number;
  /** `written`, by entity (for the metrics). */
  writtenByEntity: Map<string, number>;
  /** Rows whose id another entity or source already holds (held_by: that entity; held_by_source: its source's name). */
  collisions: Collision[];
  /** Rows the store cannot hold, with why (a DATA error for that record). */
  rejected: { context_type: string; context_id: string; message: string }[];
};

// Rows travel as nine arrays in PostgreSQL's binary format (db/binary-arrays.ts), one per column:
// each value's bytes behind a length, nothing escaped or unescaped, and only `d` parsed (jsonb).
// Measured on 2 cores, 1000-row update batches: the store's backend read them in 7–8 µs a row
// against 10–11 µs for the same rows as one jsonb document (jsonb_to_recordset, itself ~3× the
// rate of json_to_recordset and of text arrays, whose every element is escaped and parsed), the
// largest single part of a guarded upsert's ~22 µs; the worker no longer builds the document.
// A batch holding a large value carried as text (json/json-text.ts) is COPYed into a staging
// table instead, its text in slices: as a parameter it would be copied whole several times over
// (the string flattened, the array, the protocol's growing buffer).
// `k`: the paths whose stored value is kept (fields built from unchanged TOAST columns), merged in
// by the statement itself (ecm_keep_stored, a migration's function): the stored value, typically
// the large one, never travels to the worker and back.
const ARRAY_ROWS = `(SELECT u.t, u.i, u.d, u.e, u.p::numeric AS p, u.c, u.x, u.k, u.y
  FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::jsonb[], $9::text[]) AS u(t, i, d, e, p, c, x, k, y)) AS r`;
const STAGED_ROWS = "pg_temp.ecm_stage AS r";
const STAGE_SQL = "CREATE TEMP TABLE IF NOT EXISTS ecm_stage (t text, i text, d jsonb, e text, p numeric, c text, x boolean, k jsonb, y text) ON COMMIT DROP; TRUNCATE pg_temp.ecm_stage";
// The statement's parameters after the rows ($p: source, then mapping version, generation, snapshot, pass).
const upsertSql = (rows: string, p: number) => `
INSERT INTO contexts AS c (context_type, context_id, data, source_id, entity, generation, position, snapshot_pass, cursor, source_key, deleted, mapping_version, created_at, updated_at)
SELECT r.t, r.i,
  CASE WHEN r.k IS NULL THEN coalesce(r.d, '{}'::jsonb)
       ELSE ecm_keep_stored(coalesce(r.d, '{}'::jsonb), (SELECT s.data FROM contexts s WHERE s.context_type = r.t AND s.context_id = r.i), r.k) END,
  $${p}::uuid, r.e, $${p + 2}::int, r.p, $${p + 4}::bigint, r.c, r.y, r.x, $${p + 1}::int, now(), now()
FROM ${rows}
ON CONFLICT (context_type, context_id) DO UPDATE SET
  data = CASE WHEN EXCLUDED.deleted THEN c.data ELSE EXCLUDED.data END,
  source_id = EXCLUDED.source_id, entity = EXCLUDED.entity,
  generation = EXCLUDED.generation, position = EXCLUDED.position, snapshot_pass = EXCLUDED.snapshot_pass, cursor = EXCLUDED.cursor,
  source_key = EXCLUDED.source_key, deleted = EXCLUDED.deleted, mapping_version = EXCLUDED.mapping_version, updated_at = now()
WHERE (c.entity = EXCLUDED.entity AND c.source_id = EXCLUDED.source_id
       AND (c.generation < EXCLUDED.generation
            OR (c.generation = EXCLUDED.generation
                AND (c.position < EXCLUDED.position
                     OR (c.position = EXCLUDED.position AND $${p + 3}::boolean
                         AND (c.snapshot_pass IS DISTINCT FROM EXCLUDED.snapshot_pass OR c.data IS DISTINCT FROM EXCLUDED.data
                              OR c.deleted IS DISTINCT FROM EXCLUDED.deleted OR c.mapping_version IS DISTINCT FROM EXCLUDED.mapping_version))))))
   -- Another source's or entity's tombstone holds the id of nothing: a live row takes it over
   -- (positions of two sources are not comparable; the live one is the truth).
   OR (c.deleted AND NOT EXCLUDED.deleted AND (c.entity <> EXCLUDED.entity OR c.source_id <> EXCLUDED.source_id))`;
const UPSERT_SQL = upsertSql(ARRAY_ROWS, 10);
const UPSERT_STAGED_SQL = upsertSql(STAGED_ROWS, 1);

// Only when some rows were not written: which of them are held by another entity or source.
const collisionsSql = (rows: string, p: number) => `
SELECT r.t AS context_type, r.i AS context_id, c.entity AS held_by, s.name AS held_by_source
FROM ${rows}
JOIN contexts c ON c.context_type = r.t AND c.context_id = r.i
LEFT JOIN sources s ON s.id = c.source_id
WHERE (c.entity <> r.e OR c.source_id <> $${p}::uuid) AND NOT (c.deleted AND r.x)`;
const COLLISIONS_SQL = collisionsSql(ARRAY_ROWS, 10);
const COLLISIONS_STAGED_SQL = collisionsSql(STAGED_ROWS, 1);

/**
 * Rows new to the store (a first snapshot of an entity, inserts streamed after it) need no
 * conflict handling: they are COPYed straight into `contexts`, about twice the rate of the
 * upsert. Inside a savepoint: when any key already exists (unique violation), the COPY is undone
 * and the batch takes the upsert, so the outcome is the upsert's in every case. The caller keeps
 * one hint per writer: after a miss, the next few batches go straight to the upsert.
 */
export class InsertHint {
  private skip = 0;
  constructor(private readonly backoff = 16) {}
  get worthTrying() {
    return this.skip === 0 || (this.skip--, false);
  }
  missed() {
    this.skip = this.backoff;
  }
}

/** A row as written: its data serialised (pieces when it carries a large text; null: no data). */
type Row = ContextWrite & { json: string | JsonPieces | null };

/** An id as a refusal shows it: U+0000 and lone surrogates as their escapes (the store could hold neither). */
export const shownContextId = (id: string) => id.replaceAll("\u0000", "\\u0000").replace(/\p{Cs}/gu, (c) => `\\u${c.charCodeAt(0).toString(16)}`);

/** The source key as stored (JSON of its text form), or null when the row has none. */
const sourceKey = (r: ContextWrite) => (r.key ? JSON.stringify(r.key) : null);

/** `data` as JSON, or undefined when jsonb cannot hold it (U+0000). */
function serializeData(data: ContextWrite["data"]): Row["json"] | undefined {
  return data === null ? null : (serializeKeepingText(data) ?? undefined);
}

/**
 * Serialises a write's data ahead of its batch (a snapshot page as soon as it is mapped), and
 * says how large it is: the characters of its JSON (a carried text's own size), so a caller can
 * bound the bytes it holds. A write whose data jsonb cannot hold is left to writeContexts, which
 * refuses it.
 */
export function serializeAhead(w: ContextWrite): number {
  if (w.data === null || w.keep?.length) return 0;
  const json = serializeData(w.data);
  if (json === undefined || json === null) return 0;
  w.json = json;
  return jsonChars(json);
}

/**
 * The most characters of data sent as array parameters (larger batches go through the staging
 * table): a parameter is held whole several times over (the string, its array, the protocol's buffer).
 */
const ARRAYS_MAX_CHARS = 64 << 20;

/** The rows as the statement's nine array parameters ($1…$9: t, i, d, e, p, c, x, k, y). */
function rowArrays(batch: Row[]): Buffer[] {
  return [
    textArray(batch.map((r) => r.context_type)),
    textArray(batch.map((r) => r.context_id)),
    jsonbArray(batch.map((r) => (r.json === null || typeof r.json === "string" ? r.json : r.json.join("")))),
    textArray(batch.map((r) => r.entity)),
    textArray(batch.map((r) => r.position.toString())),
    textArray(batch.map((r) => r.cursor)),
    boolArray(batch.map((r) => r.deleted)),
    jsonbArray(batch.map(keptJson)),
    textArray(batch.map(sourceKey)),
  ];
}

/** Characters of serialised data (a carried text's own size). */
const jsonChars = (json: Row["json"]) => (json === null ? 0 : typeof json === "string" ? json.length : json.reduce((n, piece) => n + piece.length, 0));

/** Characters of a large value's text escaped at a time. */
const CHUNK_CHARS = 1 << 20;
/** COPY buffers made ahead of the socket: two (a stream's default, 16, holds 16 MiB of a large value). */
const AHEAD = { highWaterMark: 2 };

/**
 * Rows as COPY text, in buffers of about a mebibyte: each line is the key columns, the row's data,
 * then what `after` writes. A large value is escaped slice by slice as the stream asks for it,
 * never copied whole; a slice of a string never ends between the two halves of a surrogate pair,
 * and a value carried as bytes goes out as views of them where nothing needs escaping.
 */
function* copyLines(rows: Row[], after: (out: CopyOut, r: Row) => void, nullData: string): Generator<Buffer> {
  const out = new CopyOut();
  for (const r of rows) {
    out.text(r.context_type);
    out.raw("\t");
    out.text(r.context_id);
    out.raw("\t");
    if (r.json === null) out.raw(nullData);
    else if (typeof r.json === "string") out.text(r.json);
    else {
      for (const piece of r.json) {
        if (typeof piece !== "string") {
          for (let at = 0; at < piece.length; at += CHUNK_CHARS) {
            out.bytes(piece.subarray(at, at + CHUNK_CHARS));
            yield* out.ready.splice(0);
          }
          continue;
        }
        for (let at = 0; at < piece.length; ) {
          let end = Math.min(at + CHUNK_CHARS, piece.length);
          const last = piece.charCodeAt(end - 1);
          if (end < piece.length && last >= 0xd800 && last <= 0xdbff) end--;
          out.text(piece.slice(at, end));
          at = end;
          if (out.ready.length) yield* out.ready.splice(0);
        }
      }
    }
    after(out, r);
    if (out.ready.length) yield* out.ready.splice(0);
  }
  out.flush();
  yield* out.ready;
}

async function copyNew(client: pg.ClientBase, sourceId: string, mappingVersion: number, generation: number, pass: bigint | null, batch: Row[]): Promise<boolean> {
  const stamp = pass === null ? "\\N" : pass.toString();
  // The columns between the data and the source key are the same for a whole snapshot chunk (its
  // entity, position, no cursor): made once per run of rows that share them.
  let middle = "";
  let of: Row | null = null;
  const end = `\tf\t${mappingVersion}\n`;
  const after = (out: CopyOut, r: Row) => {
    if (!of || r.entity !== of.entity || r.position !== of.position || r.cursor !== of.cursor) {
      middle = `\t${sourceId}\t${copyText(r.entity)}\t${generation}\t${r.position}\t${stamp}\t${r.cursor === null ? "\\N" : copyText(r.cursor)}\t`;
      of = r;
    }
    out.raw(middle);
    out.nullable(sourceKey(r));
    out.raw(end);
  };
  await client.query("SAVEPOINT ecm_copy_new");
  try {
    await pipeline(
      Readable.from(copyLines(batch, after, "{}"), AHEAD),
      client.query(copyStreams.from("COPY contexts (context_type, context_id, data, source_id, entity, generation, position, snapshot_pass, cursor, source_key, deleted, mapping_version) FROM STDIN")),
    );
    await client.query("RELEASE SAVEPOINT ecm_copy_new");
    return true;
  } catch (e) {
    if ((e as { code?: string }).code !== "23505") throw e;
    await client.query("ROLLBACK TO SAVEPOINT ecm_copy_new");
    return false;
  }
}

/** Whether the store holds any context of this source's entity (deleted or not). */
export async function holdsEntity(sourceId: string, entity: string): Promise<boolean> {
  const { rowCount } = await pgPool().query("SELECT 1 FROM contexts WHERE source_id = $1::uuid AND entity = $2 LIMIT 1", [sourceId, entity]);
  return !!rowCount;
}

/**
 * Writes a batch with `client` (pass a transaction's client to commit it with a checkpoint), at
 * its place in the store's order. With a hint (and a transaction's client), rows that are all new
 * go in by COPY. The rows are taken over: each gets its serialised data as `json` (fields kept
 * from the store are merged by the statement, never read into `data`).
 */
export async function writeContexts(client: pg.ClientBase | pg.Pool, sourceId: string, mappingVersion: number, rows: ContextWrite[], options: WriteOptions): Promise<WriteResult> {
  const { hint, generation, snapshot } = options;
  const pass = options.pass ?? null;
  const rejected: WriteResult["rejected"] = [];
  // One row per key per statement (ON CONFLICT cannot touch a row twice): the last one wins,
  // as it would have if written one after another.
  const byKey = new Map<string, Row>();
  for (const r of rows) {
    const json = r.json !== undefined ? r.json : serializeData(r.data);
    // jsonb cannot hold U+0000 (json text from the source can), nor text a lone surrogate (a JS
    // string can; UTF-8 has no form for it, so it would be stored altered): refuse that record, not the batch.
    if (json === undefined || holdsUnstorable(r.context_id)) {
      rejected.push({ context_type: r.context_type, context_id: shownContextId(r.context_id), message: "contains \\u0000 or a lone surrogate (half of a UTF-16 pair), which PostgreSQL cannot store exactly" });
      continue;
    }
    const k = `${r.context_type}\u0000${r.context_id}`;
    const earlier = byKey.get(k);
    if (r.keep?.length && r.data && earlier?.data && !earlier.deleted) {
      // The kept fields' current value is the one this batch wrote just before, not the stored
      // one; where that row kept the field too, the stored value still stands.
      const data = cloneData(r.data);
      const stillKept: string[][] = [];
      for (const path of r.keep) {
        if (earlier.keep?.some((p) => samePath(p, path))) stillKept.push(path);
        else {
          const value = getPath(earlier.data, path);
          if (value === undefined) deletePath(data, path);
          else setPath(data, path, value);
        }
      }
      byKey.set(k, { ...r, data, keep: stillKept.length ? stillKept : undefined, json: serializeData(data)! }); // both sides passed the U+0000 check
      continue;
    }
    // The caller's row itself carries its JSON on (no copy per row: a snapshot writes millions).
    const row = r as Row;
    row.json = json;
    byKey.set(k, row);
  }
  // Every writer (snapshot chunks, stream batches, replays) takes its row locks in one global
  // order, (context_type, context_id): two batches touching the same hot keys then wait for each
  // other instead of deadlocking (key order against change order). The one wait outside that
  // order, a stream batch's for the batch before it (store/unit-of-work.ts, CommitSequence), is
  // taken in the store, where a cycle through it is a deadlock PostgreSQL breaks.
  const batch = [...byKey.values()].sort(byContextKey);
  if (!batch.length) return { written: 0, writtenByEntity: new Map(), collisions: [], rejected };
  const entity = batch[0]!.entity;
  const oneEntity = batch.every((r) => r.entity === entity);
  const keeps = batch.some((r) => r.keep?.length);
  if (keeps) await lockKeys(client, batch);
  if (hint && !(client instanceof Pool) && !keeps && batch.every((r) => !r.deleted) && hint.worthTrying) {
    if (await copyNew(client, sourceId, mappingVersion, generation, pass, batch)) return { written: batch.length, writtenByEntity: countByEntity(batch), collisions: [], rejected };
    hint.missed();
  }
  const params = [sourceId, mappingVersion, generation, snapshot, pass === null ? null : pass.toString()];
  // A batch of one entity (every snapshot chunk) counts its rows; a mixed one asks which entity each written row was of.
  const returning = oneEntity ? "" : " RETURNING c.entity";
  let result: pg.QueryResult<{ entity: string }>;
  let collisionsOf: () => Promise<pg.QueryResult<Collision>>;
  // A large value, or more data than parameters should carry: the rows go to a staging table by
  // COPY instead (in the batch's transaction, gone at its end).
  const inTransaction = !(client instanceof Pool);
  let chars = 0;
  for (const r of batch) chars += jsonChars(r.json);
  const staged = inTransaction && (batch.some((r) => Array.isArray(r.json)) || chars > ARRAYS_MAX_CHARS);
  if (!staged) {
    const arrays = rowArrays(batch);
    result = await client.query<{ entity: string }>(UPSERT_SQL + returning, [...arrays, ...params]);
    collisionsOf = () => client.query<Collision>(COLLISIONS_SQL, [...arrays, sourceId]);
  } else {
    await client.query(STAGE_SQL);
    const after = (out: CopyOut, r: Row) => {
      out.raw("\t");
      out.text(r.entity);
      out.raw(`\t${r.position}\t`);
      out.nullable(r.cursor);
      out.raw(r.deleted ? "\tt\t" : "\tf\t");
      out.nullable(keptJson(r));
      out.raw("\t");
      out.nullable(sourceKey(r));
      out.raw("\n");
    };
    await pipeline(Readable.from(copyLines(batch, after, "\\N"), AHEAD), client.query(copyStreams.from("COPY pg_temp.ecm_stage (t, i, d, e, p, c, x, k, y) FROM STDIN")));
    result = await client.query<{ entity: string }>(UPSERT_STAGED_SQL + returning, params);
    collisionsOf = () => client.query<Collision>(COLLISIONS_STAGED_SQL, [sourceId]);
  }
  const written = result.rowCount ?? 0;
  const writtenByEntity = oneEntity ? new Map([[entity, written]]) : countByEntity(result.rows);
  const collisions = written < batch.length ? (await collisionsOf()).rows : [];
  return { written, writtenByEntity, collisions, rejected };
}

function countByEntity(rows: { entity: string }[]): Map<string, number> {
  const by = new Map<string, number>();
  for (const r of rows) by.set(r.entity, (by.get(r.entity) ?? 0) + 1);
  return by;
}

/** The global lock order of contexts (code-unit order: the same in every process). */
function byContextKey(a: { context_type: string; context_id: string }, b: { context_type: string; context_id: string }): number {
  if (a.context_type !== b.context_type) return a.context_type < b.context_type ? -1 : 1;
  return a.context_id < b.context_id ? -1 : a.context_id > b.context_id ? 1 : 0;
}

/** A row's kept paths as JSON, or null when it keeps none. */
const keptJson = (r: Row) => (r.keep?.length ? JSON.stringify(r.keep) : null);

/**
 * An update that did not carry an unchanged TOAST value cannot recompute the fields built from
 * it: those keep what the store holds (ecm_keep_stored in the upsert). The stored rows are locked
 * first, so the statement merges the value it then overwrites; every key of the batch is locked
 * here, in the batch's (global) order, not only the partial ones: the upsert that follows then
 * takes no lock out of order (a deadlock otherwise).
 */
async function lockKeys(client: pg.ClientBase | pg.Pool, batch: Row[]) {
  await client.query(
    `SELECT 1 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(context_type, context_id, n)
     JOIN contexts c USING (context_type, context_id) ORDER BY k.n FOR UPDATE OF c`,
    [batch.map((r) => r.context_type), batch.map((r) => r.context_id)],
  );
}

const samePath = (a: string[], b: string[]) => a.length === b.length && a.every((segment, i) => segment === b[i]);

function getPath(obj: Record<string, JsonValue>, path: string[]): JsonValue | undefined {
  let node: JsonValue | undefined = obj;
  for (const segment of path) {
    if (node === null || typeof node !== "object" || Array.isArray(node) || node instanceof JsonText) return undefined;
    node = own<JsonValue>(node, segment);
  }
  return node;
}

// Paths come from a validated mapping (no prototype keys); own-property reads and defineProperty
// writes keep that true even for a path that slipped through.
function setPath(obj: Record<string, JsonValue>, path: string[], value: JsonValue) {
  let node = obj;
  path.forEach((segment, i) => {
    if (i === path.length - 1) Object.defineProperty(node, segment, { value, enumerable: true, writable: true, configurable: true });
    else {
      let next = own<JsonValue>(node, segment);
      if (next === undefined || next === null || typeof next !== "object" || Array.isArray(next) || next instanceof JsonText) {
        next = {};
        Object.defineProperty(node, segment, { value: next, enumerable: true, writable: true, configurable: true });
      }
      node = next as Record<string, JsonValue>;
    }
  });
}

function deletePath(obj: Record<string, JsonValue>, path: string[]) {
  const parent = getPath(obj, path.slice(0, -1));
  const last = path[path.length - 1]!;
  if (parent && typeof parent === "object" && !Array.isArray(parent) && !(parent instanceof JsonText) && Object.hasOwn(parent, last)) delete parent[last];
}

/**
 * Every live context of an entity older than (generation, position) becomes a tombstone there (a
 * TRUNCATE, or the end of a snapshot pass). A pass (`exceptPass`) also tombstones what stands at
 * exactly its floor but was not written by it (an earlier pass at the same floor: a quiet
 * source), so an id the mapping no longer makes never survives a re-snapshot. Returns how many.
 */
export async function tombstoneEntity(client: pg.ClientBase | pg.Pool, sourceId: string, entity: string, generation: number, position: bigint, cursor: string | null, exceptPass: bigint | null = null): Promise<number> {
  const r = await client.query(
    `UPDATE contexts SET deleted = true, generation = $3, position = $4, snapshot_pass = NULL, cursor = $5, updated_at = now()
     WHERE source_id = $1 AND entity = $2 AND NOT deleted
       AND (generation < $3 OR (generation = $3 AND (position < $4 OR (position = $4 AND $6::bigint IS NOT NULL AND snapshot_pass IS DISTINCT FROM $6::bigint))))`,
    [sourceId, entity, generation, position.toString(), cursor, exceptPass === null ? null : exceptPass.toString()],
  );
  return r.rowCount ?? 0;
}

/** A context a reconcile checks: its id and the key of the source row that wrote it (JSON of its text form). */
export type KeyedContext = { context_type: string; context_id: string; source_key: string };

/**
 * The context types an entity's contexts have, from `from` on (null: all), in the store's order
 * of context_type: what a reconcile walks, one type after another. Read once per pass (it visits
 * every context of the entity, as the walk itself does); a type added while the pass runs belongs
 * to contexts written above its floor, which the walk skips anyway.
 */
export async function entityContextTypes(sourceId: string, entity: string, from: string | null): Promise<string[]> {
  const { rows } = await pgPool().query<{ context_type: string }>(
    "SELECT DISTINCT context_type FROM contexts WHERE source_id = $1 AND entity = $2 AND ($3::text IS NULL OR context_type >= $3) ORDER BY context_type",
    [sourceId, entity, from],
  );
  return rows.map((r) => r.context_type);
}

/**
 * A reconcile's next chunk: the entity's live contexts after `after` in id order, (context_type,
 * context_id), that stand below the pass's floor and know their row's key (one written before keys
 * were kept is left to full passes). `types`: the entity's context types in order
 * (entityContextTypes, from the pass's first `after` on). Each type is a range of the primary key,
 * read in id order from where the walk stands.
 */
export async function keyedContexts(sourceId: string, entity: string, floor: { generation: number; position: bigint }, after: string[] | null, limit: number, types: readonly string[]): Promise<KeyedContext[]> {
  const out: KeyedContext[] = [];
  // Where the walk stands: after's own type (types come in the store's order, so nothing is
  // compared here). A type not listed is the pass's first `after` whose contexts are all gone
  // since (hard deletes): every listed type then comes after it.
  let first = after ? types.indexOf(after[0]!) : 0;
  let from = after && first >= 0 ? after[1]! : null;
  if (first < 0) first = 0;
  for (let t = first; t < types.length && out.length < limit; t++, from = null) {
    const { rows } = await pgPool().query<KeyedContext>(
      `SELECT context_type, context_id, source_key FROM contexts
       WHERE context_type = $1 ${from !== null ? "AND context_id > $7" : ""} AND source_id = $2 AND entity = $3
         AND NOT deleted AND source_key IS NOT NULL AND (generation < $4 OR (generation = $4 AND position < $5::numeric))
       ORDER BY context_id LIMIT $6`,
      [types[t], sourceId, entity, floor.generation, floor.position.toString(), limit - out.length, ...(from !== null ? [from] : [])],
    );
    out.push(...rows);
  }
  return out;
}

/**
 * Every live context of these entities becomes a tombstone (they were removed from the mapping
 * with "re-map existing contexts"). Positions stay: a later snapshot of the entity rewrites them.
 */
export async function tombstoneEntities(client: pg.ClientBase | pg.Pool, sourceId: string, entities: string[]): Promise<number> {
  if (!entities.length) return 0;
  const r = await client.query("UPDATE contexts SET deleted = true, updated_at = now() WHERE source_id = $1 AND entity = ANY($2::text[]) AND NOT deleted", [sourceId, entities]);
  return r.rowCount ?? 0;
}

/** Live contexts of a source by entity and the mapping version that built them (one pass over them). */
export async function liveContextsByVersion(sourceId: string): Promise<{ entity: string; mapping_version: number; contexts: number }[]> {
  const { rows } = await pgPool().query<{ entity: string; mapping_version: number; contexts: number }>(
    "SELECT entity, mapping_version, count(*)::int AS contexts FROM contexts WHERE source_id = $1 AND NOT deleted GROUP BY entity, mapping_version ORDER BY entity, mapping_version",
    [sourceId],
  );
  return rows;
}

/** Whether the store holds any context of this source (deleted or not). */
export async function holdsSource(sourceId: string): Promise<boolean> {
  const { rowCount } = await pgPool().query("SELECT 1 FROM contexts WHERE source_id = $1::uuid LIMIT 1", [sourceId]);
  return !!rowCount;
}

/** Other sources that already write contexts of this type (a mapping's context_type would collide). */
export async function otherWritersOf(contextType: string, sourceId: string): Promise<string[]> {
  const { rows } = await pgPool().query<{ name: string }>(
    `SELECT s.name FROM sources s WHERE s.id <> $2 AND EXISTS (SELECT 1 FROM contexts c WHERE c.context_type = $1 AND c.source_id = s.id) ORDER BY s.name LIMIT 5`,
    [contextType, sourceId],
  );
  return rows.map((r) => r.name);
}

/**
 * Hard deletes (a source's `options.deletes: "hard"`): tombstones are removed once nothing can
 * bring their rows back, that is while no snapshot or dead-letter replay of the source is queued
 * or running (either may have read a row before its delete and would write it again once the
 * tombstone that guards it is gone; one that starts later reads the row after the delete).
 * Changes a stream redelivers after a restart all come after its durable cursor, so they are newer
 * than any tombstone it purged. `keys`
 * limits the purge to those contexts (a stream batch's deletes); without it, every tombstone of
 * the source (after a TRUNCATE, a snapshot, a stream start).
 */
export async function purgeTombstones(client: pg.ClientBase | pg.Pool, sourceId: string, keys?: { context_type: string; context_id: string }[]): Promise<number> {
  if (keys && !keys.length) return 0;
  const noSnapshot = `NOT EXISTS (SELECT 1 FROM runs WHERE runs.source_id = $1::uuid AND ${CONTEXT_WRITING_RUN})`;
  const r = keys
    ? await client.query(
        `DELETE FROM contexts c USING unnest($2::text[], $3::text[]) AS k(t, i)
         WHERE c.context_type = k.t AND c.context_id = k.i AND c.source_id = $1::uuid AND c.deleted AND ${noSnapshot}`,
        [sourceId, keys.map((k) => k.context_type), keys.map((k) => k.context_id)],
      )
    : await client.query(`DELETE FROM contexts WHERE source_id = $1::uuid AND deleted AND ${noSnapshot}`, [sourceId]);
  return r.rowCount ?? 0;
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
  // Within one type, "context_id > x" lets the index start at the cursor; the row comparison
  // alone (needed across types) would be scanned from the type's first key.
  if (opts.after && opts.after[0] === opts.contextType) where.push(`context_id > ${p(opts.after[1])}`);
  else if (opts.after) where.push(`(context_type, context_id) > (${p(opts.after[0])}, ${p(opts.after[1])})`);
  const { rows } = await pgPool().query<StoredContext>(
    `SELECT ${COLUMNS} FROM contexts ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY context_type, context_id LIMIT ${p(opts.limit)}`,
    params,
  );
  return rows;
}
