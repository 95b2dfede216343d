// A snapshot of a source through its mapping into the context store. Change capture is set up
// first (so nothing committed meanwhile is missed); then, per entity, chunks are read after the
// last checkpoint, mapped, and committed with the new checkpoint in one unit of work (while the
// next chunk is read). A crash redoes at most the chunks after the last checkpoint, and redoing
// them changes nothing. A record that cannot be mapped or stored is a dead letter; the snapshot
// goes on.
import { AppError } from "../errors/app-error.ts";
import { pgPool } from "../db.ts";
import { logger } from "../logger.ts";
import { cursorCodec } from "../connectors/registry.ts";
import { requireCapability, type CaptureSetup, type CursorCodec, type ECMConnector } from "../connectors/types.ts";
import { compileMapping, type CompiledMapping } from "../mapping/compile.ts";
import { getMappings, transformEnv } from "../mapping/service.ts";
import { withConnector } from "../sources/connectivity.ts";
import type { TSource } from "../sources/schemas.ts";
import { getSource } from "../sources/service.ts";
import { sourceExists, withCaptureLock } from "../store/capture-lock.ts";
import { loadCheckpoint, resetCheckpoint, saveCheckpoint } from "../store/checkpoints.ts";
import { holdsEntity, InsertHint, tombstoneEntity } from "../store/contexts.ts";
import { forgetCursor, getStream } from "../store/streams.ts";
import { commitBatch, type BatchResult } from "../store/unit-of-work.ts";
import { recordBatchBuilt, recordRead } from "../metrics/record.ts";
import { mapRecord, mappersByEntity, type Mapped } from "./records.ts";
import { WriteBehind } from "./write-behind.ts";

const log = logger("snapshot");

export type RecordError = { entity: string; context_type: string; key: string[]; field: string | null; transform: string | null; message: string; category: "DATA" };

export type SnapshotResult = {
  mapping_version: number;
  entities: { entity: string; read: number; written: number; resumed_after: string[] | null }[];
  read: number;
  written: number;
  errors: RecordError[];
  collisions: BatchResult["collisions"];
};

export type SnapshotOptions = {
  entities?: string[];
  /** Start over even where a checkpoint says the entity was done or half done. */
  restart?: boolean;
  batchSize?: number;
  /** The run this snapshot belongs to, recorded on its dead letters. */
  runId?: string | null;
  /** After each committed chunk: rows read, contexts written and records dead-lettered so far (committed). */
  onChunk?: (progress: { entity: string; rows: number; total_read: number; total_written: number; total_dead_lettered: number }) => void | Promise<void>;
};

/**
 * Change capture before any entity is read (a full snapshot also replaces a lost capture and
 * forgets the old one's cursor). runSnapshot does it too; a run that reads its entities in
 * parallel parts does it once, first.
 */
export async function prepareSnapshot(sourceId: string, opts: { full: boolean }) {
  const { mappings } = await mappingsOf(sourceId);
  const source = await getSource(sourceId);
  await withConnector(sourceId, (connector) => prepareCapture(connector, source, [...new Set(mappings.map((m) => m.source.table))], opts.full));
}

async function mappingsOf(sourceId: string) {
  const saved = await getMappings(sourceId);
  if (!saved.mappings.length) throw new AppError("BAD_REQUEST", "this source has no mapping yet: save one (PUT …/mappings) before a snapshot", { category: "CONFIGURATION" });
  return saved;
}

/** Capture set-up for a CDC source (null for a snapshot-only one); a new capture makes the old cursor meaningless. */
async function prepareCapture(connector: ECMConnector, source: TSource, tables: string[], full: boolean): Promise<CaptureSetup | null> {
  if (source.config.options.change_tracking !== "cdc") return null;
  const sourceId = source.id;
  const capture = requireCapability(connector, "prepareCapture", "capture changes");
  const setup = await withCaptureLock(sourceId, async (db) => {
    // A source being deleted has its capture dropped under this lock: never create it again.
    if (!(await sourceExists(db, sourceId))) throw AppError.notFound(`source ${sourceId}`);
    return capture.prepareCapture(tables, { replaceLost: full });
  });
  if (setup.created) await forgetCursor(sourceId);
  return setup;
}

/**
 * The cursor a snapshot's rows are placed at: the stream's durable cursor (every later commit will
 * still be applied by the stream), or where the capture starts when nothing was streamed yet.
 * Read before the entity's reads start, so anything committed after a read is placed above it.
 */
async function snapshotFloor(sourceId: string, captureStart: string | null, codec: CursorCodec): Promise<string | null> {
  const durable = (await getStream(sourceId))?.cursor ?? null;
  if (!durable || !captureStart) return durable ?? captureStart;
  return codec.order(durable) > codec.order(captureStart) ? durable : captureStart;
}

export async function runSnapshot(sourceId: string, opts: SnapshotOptions = {}): Promise<SnapshotResult> {
  const { version, mappings } = await mappingsOf(sourceId);
  const wanted = mappings.filter((m) => !opts.entities || opts.entities.includes(m.source.table));
  const byEntity = mappersByEntity(wanted.map((m) => compileMapping(m, transformEnv())));
  const result: SnapshotResult = { mapping_version: version, entities: [], read: 0, written: 0, errors: [], collisions: [] };
  const source = await getSource(sourceId);
  const codec = cursorCodec(source.connector_type);

  await withConnector(sourceId, async (connector) => {
    const reader = requireCapability(connector, "readSnapshotChunks", "read snapshots in resumable chunks");
    // Before the first read. A full snapshot is also the recovery from a lost capture.
    const capture = await prepareCapture(connector, source, [...byEntity.keys()], !opts.entities);
    for (const [entity, mappers] of byEntity) {
      const stats = await snapshotEntity({ sourceId, entity, mappers, version, capture, codec, reader, opts, result });
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
  mappers: CompiledMapping[];
  version: number;
  capture: CaptureSetup | null;
  codec: CursorCodec;
  reader: Required<Pick<ECMConnector, "readSnapshotChunks">>;
  opts: SnapshotOptions;
  result: SnapshotResult;
};

async function snapshotEntity({ sourceId, entity, mappers, version, capture, codec, reader, opts, result }: EntityPass) {
  if (opts.restart) await resetCheckpoint(sourceId, entity);
  let checkpoint = await loadCheckpoint(sourceId, entity);
  if (checkpoint?.done) {
    await resetCheckpoint(sourceId, entity); // a finished snapshot: this is a new one
    checkpoint = null;
  }
  const stats = { entity, read: 0, written: 0, resumed_after: checkpoint?.last_key ?? null };
  let rowsDone = checkpoint?.rows_done ?? 0;
  // Rows take a position below every change the stream will still apply (store/contexts.ts),
  // fixed before the entity's first read and kept across resumes (each read starts after it).
  const floor = checkpoint?.floor_cursor ?? (capture ? await snapshotFloor(sourceId, capture.start, codec) : null);
  const position = floor ? codec.order(floor) : 0n;
  if (!checkpoint) await saveCheckpoint(pgPool(), sourceId, entity, null, 0, false, floor);
  // An entity the store holds nothing of yet (its first snapshot) is loaded by COPY.
  const insertHint = (await holdsEntity(sourceId, entity)) ? undefined : new InsertHint();

  const commit = async (mapped: Mapped, rows: number, resumeAfter: string[], done: number) => {
    const w = await commitBatch({
      sourceId,
      mappingVersion: version,
      runId: opts.runId ?? null,
      writes: mapped.writes,
      deadLetters: mapped.deadLetters,
      completion: { kind: "checkpoint", entity, resume_after: resumeAfter, rows_done: done },
      insertHint,
    });
    stats.written += w.written;
    stats.read += rows;
    recordRead("snapshot", sourceId, entity, rows);
    result.read += rows;
    result.collisions.push(...w.collisions);
    for (const f of w.dead_lettered) {
      result.errors.push({ entity, context_type: f.context_type, key: f.key, field: f.error.field ?? null, transform: f.error.transform ?? null, message: f.error.message, category: "DATA" });
    }
    await opts.onChunk?.({ entity, rows, total_read: result.read, total_written: result.written + stats.written, total_dead_lettered: result.errors.length });
  };

  // Each chunk commits while the next one is read and mapped.
  const behind = new WriteBehind();
  let reading = performance.now();
  try {
    for await (const chunk of reader.readSnapshotChunks(entity, { batch_size: opts.batchSize, after: checkpoint?.last_key ?? null })) {
      const mapped: Mapped = { writes: [], deadLetters: [] };
      for (let i = 0; i < chunk.records.length; i++) mapRecord(mappers, chunk.records[i]!, entity, chunk.keys[i]!, position, null, mapped);
      recordBatchBuilt("snapshot", (performance.now() - reading) / 1000);
      rowsDone += chunk.records.length;
      const done = rowsDone;
      await behind.submit(() => commit(mapped, chunk.records.length, chunk.resume_after, done));
      reading = performance.now();
    }
    await behind.settle();
  } finally {
    // A read or mapping failure must not leave a chunk committing behind the run's end (the run
    // would be closed while its contexts and checkpoint still land).
    await behind.quiesce();
  }
  // Rows the store holds from before this snapshot that it did not see were deleted at the source
  // meanwhile (changes skipped while paused, or lost with a capture): tombstone them. Every row
  // the snapshot saw now has a position at or above its own.
  const swept = capture ? await tombstoneEntity(pgPool(), sourceId, entity, position, null) : 0;
  if (swept) log.info({ source_id: sourceId, entity, removed: swept }, "snapshot removed contexts of rows no longer in the source");
  await saveCheckpoint(pgPool(), sourceId, entity, null, rowsDone, true);
  return stats;
}
