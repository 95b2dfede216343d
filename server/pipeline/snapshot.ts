// A snapshot of a source through its mapping into the context store. Per entity: change capture
// is set up first, then chunks are read after the last checkpoint, mapped, and written to the
// store together with the new checkpoint in one transaction (while the next chunk is read), so a
// crash redoes at most the chunks after the last checkpoint (and redoing them changes nothing). A record that cannot be mapped is a DATA error for that
// record only; the snapshot goes on.
import { AppError } from "../errors/app-error.ts";
import { pgPool } from "../db.ts";
import { logger } from "../logger.ts";
import { compileMapping, MappingDataError, type CompiledMapping } from "../mapping/compile.ts";
import { getMappings, transformEnv } from "../mapping/service.ts";
import { withConnector } from "../sources/connectivity.ts";
import { loadCheckpoint, resetCheckpoint, saveCheckpoint } from "../store/checkpoints.ts";
import { holdsEntity, InsertHint, tombstoneEntity, writeContexts, type ContextWrite } from "../store/contexts.ts";
import { forgetCursor } from "../store/streams.ts";
import type { PostgresConnector } from "../connectors/postgresql/connector.ts";
import type { SnapshotChunk } from "../connectors/postgresql/snapshot.ts";
import { recordDeadLetters, type NewDeadLetter } from "../store/dead-letters.ts";
import { redact } from "../logger.ts";
import { WriteBehind } from "./write-behind.ts";
import { sourceExists, withCaptureLock } from "../store/capture-lock.ts";
import { formatLsn, parseLsn, snapshotPosition } from "../connectors/postgresql/lsn.ts";

/**
 * The LSN a snapshot's rows are placed at: the stream's durable cursor (every later commit
 * will still be applied by the stream), or where the slot starts when nothing was streamed yet.
 * Read before the entity's reads start, so anything committed after a read is placed above it.
 */
async function snapshotLsn(sourceId: string, slotStart: bigint): Promise<bigint> {
  const { rows } = await pgPool().query<{ cursor: string | null }>("SELECT cursor FROM streams WHERE source_id = $1", [sourceId]);
  const cursor = rows[0]?.cursor ? parseLsn(rows[0].cursor) : 0n;
  return cursor > slotStart ? cursor : slotStart;
}

const log = logger("snapshot");

export type RecordError = { entity: string; context_type: string; key: string[]; field: string | null; transform: string | null; message: string; category: "DATA" };

export type SnapshotResult = {
  mapping_version: number;
  entities: { entity: string; read: number; written: number; resumed_after: string[] | null }[];
  read: number;
  written: number;
  errors: RecordError[];
  collisions: { context_type: string; context_id: string; held_by: string }[];
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
 * Change capture before any entity is read: publication and slot (a full snapshot also replaces
 * a lost slot and forgets the old slot's cursor). runSnapshot does it too; a run that reads its
 * entities in parallel parts does it once, first.
 */
export async function prepareSnapshot(sourceId: string, opts: { full: boolean }) {
  const { mappings } = await mappingsOf(sourceId);
  await withConnector(sourceId, (connector) => prepareCapture(connector, sourceId, [...new Set(mappings.map((m) => m.source.table))], opts.full));
}

async function mappingsOf(sourceId: string) {
  const saved = await getMappings(sourceId);
  if (!saved.mappings.length) throw new AppError("BAD_REQUEST", "this source has no mapping yet: save one (PUT …/mappings) before a snapshot", { category: "CONFIGURATION" });
  return saved;
}

/** Publication, then slot; a new slot makes the old slot's stream cursor meaningless, so it is forgotten. */
async function prepareCapture(connector: PostgresConnector, sourceId: string, tables: string[], full: boolean) {
  const capture = await withCaptureLock(sourceId, async (db) => {
    // A source being deleted has its slot dropped under this lock: never create it again.
    if (!(await sourceExists(db, sourceId))) throw AppError.notFound(`source ${sourceId}`);
    return connector.prepareCapture(tables, { replaceLostSlot: full });
  });
  if (capture?.slot_created) await forgetCursor(sourceId);
  return capture;
}

export async function runSnapshot(sourceId: string, opts: SnapshotOptions = {}): Promise<SnapshotResult> {
  const { version, mappings } = await mappingsOf(sourceId);
  const byTable = new Map<string, CompiledMapping[]>();
  for (const m of mappings) {
    if (opts.entities && !opts.entities.includes(m.source.table)) continue;
    byTable.set(m.source.table, [...(byTable.get(m.source.table) ?? []), compileMapping(m, transformEnv())]);
  }
  const result: SnapshotResult = { mapping_version: version, entities: [], read: 0, written: 0, errors: [], collisions: [] };

  await withConnector(sourceId, async (connector) => {
    // Before the first read. A full snapshot is also the recovery from a lost slot: only then is
    // a lost slot replaced, and a cursor of an old slot forgotten.
    const capture = await prepareCapture(connector, sourceId, [...byTable.keys()], !opts.entities);
    const slotStart = capture ? parseLsn((await connector.slotInfo()).confirmed_flush_lsn ?? "0/0") : 0n;
    for (const [entity, mappers] of byTable) {
      if (opts.restart) await resetCheckpoint(sourceId, entity);
      let checkpoint = await loadCheckpoint(sourceId, entity);
      if (checkpoint?.done) {
        await resetCheckpoint(sourceId, entity); // a finished snapshot: this is a new one
        checkpoint = null;
      }
      const stats = { entity, read: 0, written: 0, resumed_after: checkpoint?.last_key ?? null };
      let rowsDone = checkpoint?.rows_done ?? 0;
      // Rows take a position below every change the stream will still apply (see store/contexts.ts),
      // fixed before the entity's first read and kept across resumes (each read starts after it).
      const lsn = checkpoint?.snapshot_lsn ? parseLsn(checkpoint.snapshot_lsn) : capture ? await snapshotLsn(sourceId, slotStart) : 0n;
      const position = snapshotPosition(lsn);
      if (!checkpoint) await saveCheckpoint(pgPool(), sourceId, entity, null, 0, false, formatLsn(lsn));
      // A record that cannot be mapped (or stored) is a dead letter with its row.
      const deadLetter = (chunk: SnapshotChunk, i: number, contextType: string, error: NewDeadLetter["error"]): NewDeadLetter =>
        ({ entity, context_type: contextType, key: chunk.keys[i]!, cursor: null, position, category: "DATA", error, payload: redact(chunk.records[i]) as object });
      // writes[j] came from chunk.records[writeRecord[j]]; rowsDone counts up to this chunk.
      type Mapped = { chunk: SnapshotChunk; writes: ContextWrite[]; writeRecord: number[]; failed: NewDeadLetter[]; rowsDone: number };
      const map = (chunk: SnapshotChunk): Mapped => {
        rowsDone += chunk.records.length;
        const m: Mapped = { chunk, writes: [], writeRecord: [], failed: [], rowsDone };
        chunk.records.forEach((record, i) => {
          for (const mapper of mappers) {
            try {
              m.writes.push({ ...mapper.map(record), entity, position, cursor: null, deleted: false });
              m.writeRecord.push(i);
            } catch (e) {
              if (!(e instanceof MappingDataError)) throw e;
              m.failed.push(deadLetter(chunk, i, mapper.contextType, { message: e.message, field: e.field, transform: e.transform ?? null }));
            }
          }
        });
        return m;
      };
      // Failed records, contexts and the checkpoint commit together: nothing is lost between them.
      const commit = async ({ chunk, writes, writeRecord, failed, rowsDone: done }: Mapped) => {
        const client = await pgPool().connect();
        try {
          await client.query("BEGIN");
          const w = await writeContexts(client, sourceId, version, writes, insertHint);
          for (const r of w.rejected) {
            const j = writes.findIndex((x) => x.context_type === r.context_type && x.context_id.replaceAll("\u0000", "\\u0000") === r.context_id);
            if (j >= 0) failed.push(deadLetter(chunk, writeRecord[j]!, r.context_type, { message: r.message, code: "STORE_REJECTED" }));
          }
          await recordDeadLetters(client, sourceId, opts.runId ?? null, version, failed);
          await saveCheckpoint(client, sourceId, entity, chunk.last_key, done);
          await client.query("COMMIT");
          stats.written += w.written;
          result.collisions.push(...w.collisions);
          for (const f of failed) {
            result.errors.push({ entity, context_type: f.context_type, key: f.key, field: f.error.field ?? null, transform: f.error.transform ?? null, message: f.error.message, category: "DATA" });
          }
        } catch (e) {
          await client.query("ROLLBACK").catch(() => {});
          throw e;
        } finally {
          client.release();
        }
        stats.read += chunk.records.length;
        result.read += chunk.records.length;
        await opts.onChunk?.({ entity, rows: chunk.records.length, total_read: result.read, total_written: result.written + stats.written, total_dead_lettered: result.errors.length });
      };
      // An entity the store holds nothing of yet (its first snapshot) is loaded by COPY.
      const insertHint = (await holdsEntity(sourceId, entity)) ? undefined : new InsertHint();
      // Each chunk commits while the next one is read and mapped.
      const behind = new WriteBehind();
      try {
        for await (const chunk of connector.snapshotChunks(entity, { batch_size: opts.batchSize, after_key: checkpoint?.last_key ?? null })) {
          const mapped = map(chunk);
          await behind.submit(() => commit(mapped));
        }
        await behind.settle();
      } finally {
        // A read or mapping failure must not leave a chunk committing behind the run's end (the
        // run would be closed while its contexts and checkpoint still land).
        await behind.quiesce();
      }
      // Rows the store holds from before this snapshot that it did not see were deleted at the
      // source meanwhile (changes skipped while paused, or lost with a slot): tombstone them.
      // Every row the snapshot saw now has a position at or above its own.
      const swept = capture ? await tombstoneEntity(pgPool(), sourceId, entity, position, null) : 0;
      if (swept) log.info("snapshot removed contexts of rows no longer in the source", { source_id: sourceId, entity, removed: swept });
      await saveCheckpoint(pgPool(), sourceId, entity, null, rowsDone, true);
      result.written += stats.written;
      result.entities.push(stats);
    }
  });
  log.info("snapshot finished", { source_id: sourceId, read: result.read, written: result.written, errors: result.errors.length, collisions: result.collisions.length });
  return result;
}
