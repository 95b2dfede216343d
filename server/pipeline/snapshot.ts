// A snapshot of a source through its mapping into the context store (and, for a source with
// incremental sync, a run of it: each entity's pass reads only the rows whose cursor moved, see
// passRange and docs/incremental.md). Change capture is set up
// first (so nothing committed meanwhile is missed; pipeline/capture.ts decides whether a capture
// may be made); then, per entity, a pass owned by the run reads chunks after its last checkpoint,
// maps them, and commits each with its checkpoint in one unit of work (while the next chunks are
// read; several commit at once). A crash of the run's worker redoes at most the chunks after the
// last checkpoint, and redoing them changes nothing. A record that cannot be mapped or stored is a dead letter; the
// snapshot goes on.
//
// Runs own their progress (docs/lifecycle.md): a pass resumes only its own run's checkpoint; a
// newer run of the entity takes the pass over and the older one's next commit is refused (it ends
// "superseded"); a chunk commits only under the latest mapping (else the pass reloads it and goes
// on from its checkpoint) and only if no TRUNCATE landed above its floor (else the pass starts over).
import { AppError } from "../errors/app-error.ts";
import { inPgTransaction } from "../db.ts";
import { env } from "../env.ts";
import { logger } from "../logger.ts";
import { cursorCodec, syncsIncrementally } from "../connectors/registry.ts";
import { requireCapability, type CursorCodec, type ECMConnector, type SnapshotChunk } from "../connectors/types.ts";
import { compileMapping } from "../mapping/compile.ts";
import { getMappings, transformEnv } from "../mapping/service.ts";
import { withConnector } from "../sources/connectivity.ts";
import { getSource } from "../sources/service.ts";
import { advanceCheckpoint, loadCheckpoint, nextPassNumber, restartFromCheckpoint, SupersededError, takeOverCheckpoint, TruncatedDuringSnapshotError, type Checkpoint, type ChunkSpan, type PassFloor, type PassRange } from "../store/checkpoints.ts";
import { entityContextTypes, holdsEntity, InsertHint, keyedContexts, serializeAhead, tombstoneEntity } from "../store/contexts.ts";
import { getStream } from "../store/streams.ts";
import { commitBatch, MappingChangedError, type BatchResult, type RecordWrite } from "../store/unit-of-work.ts";
import { recordBatchBuilt, recordRead } from "../metrics/record.ts";
import { captureForSnapshot, type SnapshotCapture } from "./capture.ts";
import { mapRecord, type Mapped } from "./records.ts";
import { shownKey } from "../secrets/redact.ts";
import { WriteBehind } from "./write-behind.ts";

const log = logger("snapshot");

export type RecordError = { entity: string; context_type: string; key: string[]; field: string | null; transform: string | null; message: string; category: "DATA" };

export type EntityStats = {
  entity: string;
  read: number;
  written: number;
  resumed_after: string[] | null;
  /** The run that took this entity's pass over (this run stopped writing it), when one did. */
  superseded_by?: string | null;
};

export type SnapshotResult = {
  mapping_version: number;
  entities: EntityStats[];
  read: number;
  written: number;
  /** Dead letters recorded (each counted once, see `errors` for what they are). */
  dead_lettered: number;
  /** The records that became dead letters (a chunk read again after a failure may list its own twice). */
  errors: RecordError[];
  collisions: BatchResult["collisions"];
};

export type SnapshotOptions = {
  entities?: string[];
  batchSize?: number;
  /** Rows committed at once (pages grouped up to this): ECM_SNAPSHOT_COMMIT_ROWS unless given. */
  commitRows?: number;
  /** The run this snapshot belongs to: it owns the entities' passes, and its dead letters name it. */
  runId?: string | null;
  /** After each committed chunk: rows read, contexts written and records dead-lettered so far (committed). */
  onChunk?: (progress: { entity: string; rows: number; total_read: number; total_written: number; total_dead_lettered: number; checkpoint_moved: boolean }) => void | Promise<void>;
  /** Checked after each chunk is read: true stops the pass once the chunks in flight commit (SnapshotStopped). */
  shouldStop?: () => boolean;
  /** Incremental sync: read every row (a full pass), not only those whose cursor moved. */
  full?: boolean;
};

/** The pass stopped on request (its worker is stopping) with every chunk it read committed: it resumes from its checkpoint. */
export class SnapshotStopped extends Error {
  constructor(readonly entity: string) {
    super(`the snapshot of ${entity} stopped at a checkpoint (its worker is stopping)`);
    this.name = "SnapshotStopped";
  }
}

/**
 * Change capture before any entity is read. runSnapshot does it too; a run that reads its
 * entities in parallel parts does it once, first (a full one may start a new capture generation).
 */
export async function prepareSnapshot(sourceId: string, opts: { full: boolean }): Promise<SnapshotCapture> {
  const { mappings } = await mappingsOf(sourceId);
  const source = await getSource(sourceId);
  return withConnector(sourceId, (connector) => captureForSnapshot(connector, source, [...new Set(mappings.map((m) => m.source.table))], opts.full));
}

async function mappingsOf(sourceId: string) {
  const saved = await getMappings(sourceId);
  if (!saved.mappings.length) throw new AppError("BAD_REQUEST", "this source has no mapping yet: save one (PUT …/mappings) before a snapshot", { category: "CONFIGURATION" });
  return saved;
}

/** The entity's mappers under the latest mapping (none: it is no longer mapped). */
async function mappersOf(sourceId: string, entity: string) {
  const { version, mappings } = await getMappings(sourceId);
  return { version, mappers: mappings.filter((m) => m.source.table === entity).map((m) => compileMapping(m, transformEnv())) };
}

/**
 * A new pass's number and where its rows stand in the store's order. With a capture: the stream's
 * durable cursor (every later commit will still be applied by the stream), or where the capture
 * starts when nothing was streamed yet, read before the pass's first read so that anything
 * committed after a read is placed above it. Without one: the pass number itself (every pass
 * above the last).
 */
async function passFloor(sourceId: string, capture: SnapshotCapture, codec: CursorCodec): Promise<PassFloor> {
  const pass = await nextPassNumber(sourceId);
  if (capture.start === null) return { pass, generation: capture.generation, cursor: null, position: pass };
  const durable = (await getStream(sourceId))?.cursor ?? null;
  const cursor = durable && codec.order(durable) > codec.order(capture.start) ? durable : capture.start;
  return { pass, generation: capture.generation, cursor, position: codec.order(cursor) };
}

export async function runSnapshot(sourceId: string, opts: SnapshotOptions = {}): Promise<SnapshotResult> {
  const { version, mappings } = await mappingsOf(sourceId);
  const entities = [...new Set(mappings.map((m) => m.source.table))].filter((e) => !opts.entities || opts.entities.includes(e));
  const result: SnapshotResult = { mapping_version: version, entities: [], read: 0, written: 0, dead_lettered: 0, errors: [], collisions: [] };
  const source = await getSource(sourceId);
  const codec = cursorCodec(source.connector_type);

  await withConnector(sourceId, async (connector) => {
    const reader = requireCapability(connector, "readSnapshotChunks", "read snapshots in resumable chunks");
    // Before the first read. A full snapshot is also the recovery from a broken capture.
    const capture = await captureForSnapshot(connector, source, entities, !opts.entities);
    for (const entity of entities) {
      const stats = await snapshotEntity({ sourceId, entity, capture, codec, reader, connector, source, opts, result });
      result.written += stats.written;
      result.entities.push(stats);
    }
  });
  log.info({ source_id: sourceId, read: result.read, written: result.written, errors: result.errors.length, collisions: result.collisions.length }, "snapshot finished");
  return result;
}

type EntityPass = {
  sourceId: string;
  entity: string;
  capture: SnapshotCapture;
  codec: CursorCodec;
  reader: Required<Pick<ECMConnector, "readSnapshotChunks">>;
  connector: ECMConnector;
  source: Awaited<ReturnType<typeof getSource>>;
  opts: SnapshotOptions;
  result: SnapshotResult;
};

/** Passes of incremental sync between two full ones (a full pass sees deletes), unless the source says otherwise. */
export const DEFAULT_FULL_EVERY = 24;
export const DEFAULT_LOOKBACK_SECONDS = 60;
/** Incremental passes between two reconciles (keys only, deletes): every run. */
export const DEFAULT_RECONCILE_EVERY = 1;

/** What the next pass of an entity is asked to be: what the rules decide, the run's reconcile of deletes, or a full one. */
type PassWanted = "next" | "reconcile" | "full";

/**
 * The entity's key as the contexts keep it: each key column with its type. A reconcile matches
 * stored keys against the source's rows, so a key whose columns or types changed starts over with
 * a full pass (which rewrites every context's key).
 */
async function keyShape(connector: ECMConnector, entity: string): Promise<string[]> {
  const schema = await connector.describeEntity(entity);
  return schema.primary_key.map((k) => `${k} ${schema.columns.find((c) => c.name === k)?.type ?? "?"}`);
}

/**
 * What a new pass of an incremental source's entity reads, with its bounds computed by the source
 * now (before its first read) and fixed for the pass: the rows whose cursor moved since the last
 * completed pass (less the look-back), or every row (the first pass, every `full_every` passes, a
 * run asked to be full, a changed cursor, key or generation, `want` full). `want` reconcile: the
 * pass that checks the entity's contexts against the source's keys (its bounds stay the last
 * pass's), unless the cursor or key changed (then a full pass). Null: the source does not sync
 * incrementally, or the entity's mapping names no cursor (every run reads it whole).
 */
async function passRange({ sourceId, entity, connector, source, capture, opts }: EntityPass, previous: Checkpoint | null, want: PassWanted): Promise<PassRange | null> {
  if (!syncsIncrementally(source.config)) return null;
  const cursor = (await getMappings(sourceId)).mappings.find((m) => m.source.table === entity)?.source.cursor;
  if (!cursor) return null;
  const settings = source.config.options.incremental ?? {};
  const w = previous?.watermark;
  const key = await keyShape(connector, entity);
  const same = !!w && JSON.stringify(w.key ?? null) === JSON.stringify(key) && JSON.stringify(w.cursor) === JSON.stringify(cursor);
  if (want === "reconcile" && same) {
    log.info({ source_id: sourceId, entity, mode: "reconcile" }, "incremental pass bounds");
    return { mode: "reconcile", cursor, lower: null, upper: w!.upper, key };
  }
  const goOn = want === "next" && same && !opts.full && w!.generation === capture.generation && w!.since_full + 1 < (settings.full_every ?? DEFAULT_FULL_EVERY);
  const b = await requireCapability(connector, "incrementalBounds", "sync incrementally").incrementalBounds(entity, {
    cursor,
    lag_seconds: settings.lag_seconds ?? null,
    lag_margin_seconds: env().ECM_INCREMENTAL_LAG_MARGIN_SECONDS,
    lookback_seconds: settings.lookback_seconds ?? DEFAULT_LOOKBACK_SECONDS,
    time_zone: settings.time_zone ?? null,
    previous_upper: goOn ? w!.upper : null,
  });
  log.info({ source_id: sourceId, entity, mode: goOn ? "incremental" : "full", lower: goOn ? b.lower : null, upper: b.upper, lag_seconds: b.lag_seconds, lag_from: b.lag_from }, "incremental pass bounds");
  return { mode: goOn ? "incremental" : "full", cursor, lower: goOn ? b.lower : null, upper: b.upper, key };
}

/**
 * Whether the run, its incremental pass of the entity done, checks the entity's deletes now (every
 * `reconcile_every` passes). Only where a context's row is named by its key alone: every mapping of
 * the entity builds context_id from exactly the key's columns (else several rows may make one
 * context, and one row's delete says nothing of it), and the source can match the key's values.
 * Elsewhere deletes are seen by full passes.
 */
async function reconcileDue({ sourceId, entity, connector, source, opts }: EntityPass, done: Checkpoint | null): Promise<boolean> {
  if (!done?.done || done.run_id !== (opts.runId ?? null) || done.pass_range?.mode !== "incremental" || !done.watermark || !connector.existingKeys) return false;
  if ((done.watermark.since_reconcile ?? Infinity) < (source.config.options.incremental?.reconcile_every ?? DEFAULT_RECONCILE_EVERY)) return false;
  const key = new Set((await connector.describeEntity(entity)).primary_key);
  const { mappers } = await mappersOf(sourceId, entity);
  // context_id read from exactly the key's columns: one row, one context.
  if (!mappers.length || mappers.some((m) => m.idReads.length !== key.size || m.idReads.some((c) => !key.has(c)))) {
    log.info({ source_id: sourceId, entity }, "deletes are left to full passes: a context_id is built from more than the key");
    return false;
  }
  if ((await connector.existingKeys(entity, [])) === null) {
    log.info({ source_id: sourceId, entity }, "deletes are left to full passes: the source cannot match this key's values");
    return false;
  }
  return true;
}

/** A reconcile found none of a whole chunk's rows: a mass delete, or keys the source no longer matches. A full pass decides instead. */
class ReconcileInDoubt extends Error {
  constructor(readonly entity: string) {
    super(`the reconcile of ${entity} found none of a chunk's rows; a full pass decides instead`);
    this.name = "ReconcileInDoubt";
  }
}
/** A chunk at least this large whose rows are all gone puts a reconcile in doubt. */
const DOUBTFUL_CHUNK = 50;

async function snapshotEntity(pass: EntityPass): Promise<EntityStats> {
  const { sourceId, entity, capture, codec, opts } = pass;
  const runId = opts.runId ?? null;
  const stats: EntityStats = { entity, read: 0, written: 0, resumed_after: null };
  // A run resumes only its own pass (its worker died), in the same generation.
  const own = (c: Checkpoint | null) => (c && runId !== null && c.run_id === runId && c.generation === capture.generation ? c : null);
  const found = own(await loadCheckpoint(sourceId, entity));
  // This run finished the entity's pass already (its job ran again), unless a reconcile follows it.
  if (found?.done && !(await reconcileDue(pass, found))) return stats;
  let from: Checkpoint | null = found?.done ? null : found;
  let want: PassWanted = found?.done ? "reconcile" : "next";
  stats.resumed_after = from?.last_key ?? null;
  for (;;) {
    if (!from) {
      const previous = await loadCheckpoint(sourceId, entity);
      const range = await passRange(pass, previous, want);
      const floor = await passFloor(sourceId, capture, codec);
      if (!(await takeOverCheckpoint(sourceId, entity, runId, floor, range, range?.mode === "reconcile"))) {
        return { ...stats, superseded_by: (await loadCheckpoint(sourceId, entity))?.run_id ?? null };
      }
      from = {
        run_id: runId,
        pass: floor.pass,
        last_key: null,
        rows_done: 0,
        done: false,
        generation: floor.generation,
        floor_cursor: floor.cursor,
        floor_position: floor.position,
        pass_range: range,
        watermark: previous?.watermark ?? null,
      };
    }
    try {
      if (from.pass_range?.mode === "reconcile") await reconcilePass(pass, from, stats);
      else await readPass(pass, from, stats);
      // An incremental pass is followed, every reconcile_every passes, by a check of the entity's deletes.
      if (from.pass_range?.mode !== "incremental" || !(await reconcileDue(pass, await loadCheckpoint(sourceId, entity)))) return stats;
      from = null;
      want = "reconcile";
    } catch (e) {
      if (e instanceof ReconcileInDoubt) {
        log.warn({ source_id: sourceId, entity }, e.message);
        from = null;
        want = "full";
        continue;
      }
      if (e instanceof SupersededError) {
        // Another copy of this run's part (its job taken again while this one still ran) finished it.
        if (runId !== null && e.by === runId && (await loadCheckpoint(sourceId, entity))?.done) return stats;
        log.info({ source_id: sourceId, entity, by: e.by }, "snapshot pass superseded by a newer run");
        return { ...stats, superseded_by: e.by };
      }
      if (e instanceof MappingChangedError) {
        // Nothing mapped under the old version was committed: go on from the checkpoint under the new one.
        log.info({ source_id: sourceId, entity, from: e.from, to: e.to }, "mapping changed during the snapshot; going on under the new version");
        from = (await loadCheckpoint(sourceId, entity)) ?? null;
        if (from?.run_id !== runId) return { ...stats, superseded_by: from?.run_id ?? null };
        continue;
      }
      if (e instanceof TruncatedDuringSnapshotError) {
        log.warn({ source_id: sourceId, entity }, e.message);
        from = null;
        continue;
      }
      throw e;
    }
  }
}

/** A chunk commits at the latest this long after its first page was read (a slow source still shows progress). */
const COMMIT_WAIT_MS = 250;
/** A chunk holds pages up to this many characters of contexts' JSON (pages of large rows commit one by one). */
const COMMIT_CHARS = 8 << 20;

/** Whether `p` settles (either way) within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms <= 0) return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.then(() => true, () => true), new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads the pass from its checkpoint to the end, then finishes it. */
async function readPass({ sourceId, entity, reader, connector, opts, result }: EntityPass, from: Checkpoint, stats: EntityStats) {
  const { version, mappers } = await mappersOf(sourceId, entity);
  if (!mappers.length) return; // no longer mapped: the mapping's save dealt with its contexts
  result.mapping_version = version;
  const order = { generation: from.generation, snapshot: true };
  const position = from.floor_position;
  // An entity the store holds nothing of yet (its first snapshot) is loaded by COPY.
  const insertHint = (await holdsEntity(sourceId, entity)) ? undefined : new InsertHint();
  // This attempt reads from the checkpoint: chunks an earlier one committed past a gap are read again.
  await restartFromCheckpoint(sourceId, entity, opts.runId ?? null, from.pass);

  const commit = async (mapped: Mapped, chunk: ChunkSpan) => {
    const w = await commitBatch({
      sourceId,
      mappingVersion: version,
      order,
      runId: opts.runId ?? null,
      writes: mapped.writes,
      deadLetters: mapped.deadLetters,
      completion: { kind: "checkpoint", entity, pass: from.pass, chunk },
      insertHint,
    });
    // Rows read and dead letters are counted when the checkpoint moves over them: a chunk
    // committed ahead of one that then fails is read again by the next attempt, and counted once.
    // Contexts written are counted as they commit (writing them again changes nothing, counts 0).
    const moved = w.checkpointed ?? { rows: 0, written: 0, dead: 0 };
    stats.written += w.written;
    stats.read += moved.rows;
    recordRead("snapshot", sourceId, entity, moved.rows);
    result.read += moved.rows;
    result.dead_lettered += moved.dead;
    result.collisions.push(...w.collisions);
    for (const f of w.dead_lettered) {
      result.errors.push({ entity, context_type: f.context_type, key: shownKey(f.key, f.key_columns), field: f.error.field ?? null, transform: f.error.transform ?? null, message: f.error.message, category: "DATA" });
    }
    // The checkpoint moves only over chunks all committed: one committed ahead of a gap is not progress yet.
    await opts.onChunk?.({ entity, rows: chunk.rows, total_read: result.read, total_written: result.written + stats.written, total_dead_lettered: result.dead_lettered, checkpoint_moved: moved.rows > 0 });
  };

  // Chunks commit while the next ones are read and mapped, several at once on their own store
  // sessions (the store absorbs more in two sessions than in one); the checkpoint moves only over
  // chunks that are all committed (store/checkpoints.ts, moveFrontier).
  const behind = new WriteBehind({ depth: env().ECM_SNAPSHOT_COMMITS_IN_FLIGHT });
  let after = from.last_key;
  let reading = performance.now();
  let pages: AsyncIterator<SnapshotChunk> | undefined;
  try {
    const range = from.pass_range;
    pages = (
      range?.mode === "incremental"
        ? requireCapability(connector, "readIncrementalChunks", "sync incrementally").readIncrementalChunks(entity, { cursor: range.cursor, lower: range.lower, upper: range.upper, batch_size: opts.batchSize, after: from.last_key })
        : reader.readSnapshotChunks(entity, { batch_size: opts.batchSize, after: from.last_key })
    )[Symbol.asyncIterator]();
    // The source's pages of batch_size rows are committed in chunks of several (docs/lifecycle.md,
    // "Chunks"): up to commitRows rows or COMMIT_CHARS characters of JSON, or COMMIT_WAIT_MS after
    // the chunk's first page was read. Each commit costs the store and the worker a handful of
    // round trips whatever its size, so a commit per 1000-row page spent them several times over.
    const commitRows = opts.commitRows ?? env().ECM_SNAPSHOT_COMMIT_ROWS;
    let chunk: { mapped: Mapped; span: ChunkSpan; since: number; chars: number } | null = null;
    const submitChunk = async () => {
      if (!chunk) return;
      const { mapped, span } = chunk;
      chunk = null;
      await behind.submit(() => commit(mapped, span));
    };
    for (;;) {
      const next = pages.next();
      // Handled here too: a pass that ends before awaiting it (a commit failed, the run stopped)
      // must not leave its rejection unhandled (the worker would exit); return() below waits it out.
      next.catch(() => {});
      let page: IteratorResult<SnapshotChunk>;
      try {
        // A chunk whose time is up commits; so does one whose next page is slower than its time left.
        if (chunk && !(await settlesWithin(next, COMMIT_WAIT_MS - (performance.now() - chunk.since)))) await submitChunk();
        page = await next;
      } catch (e) {
        // What was read before the source failed is good: committed, a retry goes on after it.
        await submitChunk();
        await behind.settle();
        throw e;
      }
      if (page.done) break;
      const { records, keys, key_columns, resume_after } = page.value;
      chunk ??= { mapped: { writes: [], deadLetters: [] }, span: { after, last: resume_after, rows: 0 }, since: reading, chars: 0 };
      const first = chunk.mapped.writes.length;
      for (let i = 0; i < records.length; i++) mapRecord(mappers, records[i]!, { entity, key: keys[i]!, key_columns, position, cursor: null }, chunk.mapped);
      // Serialised now, which also tells the chunk's size (a page of large rows commits alone).
      for (let i = first; i < chunk.mapped.writes.length; i++) chunk.chars += serializeAhead(chunk.mapped.writes[i]!);
      recordBatchBuilt("snapshot", (performance.now() - reading) / 1000);
      chunk.span.last = resume_after;
      chunk.span.rows += records.length;
      after = resume_after;
      // (One whose time is up commits as the next page is asked for, above.)
      if (chunk.span.rows >= commitRows || chunk.chars >= COMMIT_CHARS) await submitChunk();
      if (opts.shouldStop?.()) {
        await submitChunk();
        await behind.settle();
        throw new SnapshotStopped(entity);
      }
      reading = performance.now();
    }
    await submitChunk();
    await behind.settle();
  } finally {
    // A read or mapping failure must not leave a chunk committing behind the run's end (the run
    // would be closed while its contexts and checkpoint still land).
    await behind.quiesce();
    // The reader's own cleanup (it waits out a page asked for ahead, so its connection is free).
    await pages?.return?.(undefined).catch(() => {});
  }
  await finishPass(sourceId, entity, opts.runId ?? null, version, from, after);
}

/**
 * A reconcile (incremental sync's deletes, docs/incremental.md): the entity's contexts below the
 * pass's floor, in id order, a chunk at a time; the source says which of their rows' keys still
 * name a row (it reads keys only), and the contexts of the others become tombstones at the pass's
 * floor, committed with the checkpoint (the last context checked). Rows are never read: an update
 * the cursor did not see stays for a full pass. A crash resumes after the last committed chunk.
 */
async function reconcilePass({ sourceId, entity, connector, source, opts, result }: EntityPass, from: Checkpoint, stats: EntityStats) {
  const { version, mappers } = await mappersOf(sourceId, entity);
  if (!mappers.length) return;
  result.mapping_version = version;
  const check = requireCapability(connector, "existingKeys", "check which rows still exist (a reconcile)");
  const floor = { generation: from.generation, position: from.floor_position };
  const limit = opts.batchSize ?? source.config.options.batch_size; // contexts checked per chunk (one commit each)
  const keyColumns = (await connector.describeEntity(entity)).primary_key;
  await restartFromCheckpoint(sourceId, entity, opts.runId ?? null, from.pass);
  let after = from.last_key;
  const types = await entityContextTypes(sourceId, entity, after?.[0] ?? null);
  for (;;) {
    const contexts = await keyedContexts(sourceId, entity, floor, after, limit, types);
    if (!contexts.length) break;
    const keys = [...new Set(contexts.map((c) => c.source_key))];
    const present = await check.existingKeys(entity, keys.map((k) => JSON.parse(k) as string[]));
    if (present === null || (keys.length >= DOUBTFUL_CHUNK && present.size === 0)) throw new ReconcileInDoubt(entity);
    const gone: RecordWrite[] = contexts
      .filter((c) => !present.has(c.source_key))
      .map((c) => ({ context_type: c.context_type, context_id: c.context_id, data: null, entity, position: floor.position, cursor: null, deleted: true, key: JSON.parse(c.source_key) as string[], key_columns: keyColumns, payload: Object.create(null) }));
    const last = contexts[contexts.length - 1]!;
    // No rows are read: the run's `read` counts none of the contexts checked, its `written` the tombstones.
    const span: ChunkSpan = { after, last: [last.context_type, last.context_id], rows: 0 };
    const w = await commitBatch({ sourceId, mappingVersion: version, order: { generation: floor.generation, snapshot: true }, runId: opts.runId ?? null, writes: gone, deadLetters: [], completion: { kind: "checkpoint", entity, pass: from.pass, chunk: span } });
    stats.written += w.written;
    if (w.written) log.info({ source_id: sourceId, entity, removed: w.written }, "reconcile tombstoned contexts whose rows are gone");
    await opts.onChunk?.({ entity, rows: contexts.length, total_read: result.read, total_written: result.written + stats.written, total_dead_lettered: result.dead_lettered, checkpoint_moved: true });
    after = span.last;
    if (opts.shouldStop?.()) throw new SnapshotStopped(entity);
  }
  await finishPass(sourceId, entity, opts.runId ?? null, version, from, after);
}

/**
 * The pass is done, and in the same transaction (while the run still owns it, under the same
 * mapping, with no TRUNCATE above its floor): the entity's contexts the pass did not write are
 * tombstoned. Every row the pass saw now stands at or above its floor; what stands below was
 * deleted at the source meanwhile (changes skipped while paused, lost with a capture, a source
 * without capture), was written under an older generation, or has an id the mapping no longer
 * makes. Its commit waits for the WAL flush (the chunks' commits did not), so a done pass is
 * durable, every chunk of it included. A pass of incremental sync that read only the rows whose
 * cursor moved tombstones nothing; it moves the entity's watermark (advanceCheckpoint).
 */
async function finishPass(sourceId: string, entity: string, runId: string | null, version: number, pass: Checkpoint, lastKey: string[] | null) {
  // Flushed whatever the server's default: this commit makes the pass's chunks durable.
  const swept = await inPgTransaction(async (client) => {
    // The checkpoint must stand where the reader ended (else the store lost a chunk: CheckpointGapError).
    const { mapping_version } = await advanceCheckpoint(client, sourceId, entity, runId, pass.pass, { done: { last_key: lastKey } });
    if (mapping_version !== version) throw new MappingChangedError(sourceId, version, mapping_version);
    // An incremental pass read only the rows whose cursor moved: what it did not write still stands
    // (a reconcile tombstoned the contexts whose rows are gone chunk by chunk).
    if (pass.pass_range?.mode === "incremental" || pass.pass_range?.mode === "reconcile") return 0;
    return tombstoneEntity(client, sourceId, entity, pass.generation, pass.floor_position, null, pass.pass);
  }, "BEGIN; SET LOCAL synchronous_commit = on");
  if (swept) log.info({ source_id: sourceId, entity, removed: swept }, "snapshot tombstoned contexts it no longer made (rows deleted, ids changed, older generation)");
}
