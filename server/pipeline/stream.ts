// A source's change stream into the context store (the spec's "Change Data Capture" and "Cursor
// Management"), a short loop over the connector's change stream and the store's unit of work:
//   read a change → map it (stream/map-change.ts) → batch it (stream/batcher.ts) → commit the
//   batch's contexts, dead letters and the fenced cursor in ONE transaction (commitBatch) → only
//   then acknowledge that cursor to the source.
// So the source is never told more is durable than the store holds, a crash redoes at most what
// was not committed, and redoing it changes nothing (writes are guarded by position). One owner
// at a time (stream/lease.ts); column changes are judged by the schema guard before anything is
// applied under them (stream/schema-guard.ts).
import { AppError } from "../errors/app-error.ts";
import { bareObject } from "../json/safe.ts";
import { pgPool } from "../db.ts";
import { logger } from "../logger.ts";
import { capturesChanges, cursorCodec } from "../connectors/registry.ts";
import { requireCapability, type ChangeStream, type ECMConnector, type RowChange } from "../connectors/types.ts";
import { getMappings } from "../mapping/service.ts";
import { getSource } from "../sources/service.ts";
import { InsertHint, purgeTombstones } from "../store/contexts.ts";
import { getStream, ownerUpdate, LeaseLostError, MappingChangedError } from "../store/streams.ts";
import { commitBatch } from "../store/unit-of-work.ts";
import { captureForStream } from "./capture.ts";
import type { Mapped } from "./records.ts";
import { Batcher } from "./stream/batcher.ts";
import { StreamLease } from "./stream/lease.ts";
import { mapChange } from "./stream/map-change.ts";
import { footprintOf, OrderedCommits } from "./stream/ordered-commits.ts";
import { recordCaptureStatus } from "./stream/observer.ts";
import { planEntities } from "./stream/plan.ts";
import { SchemaGuard, SchemaPause } from "./stream/schema-guard.ts";
import { WriteBehind } from "./write-behind.ts";
import { recordBatchBuilt, recordRead } from "../metrics/record.ts";

export { SchemaPause } from "./stream/schema-guard.ts";

const log = logger("stream");

export type StreamEnd = "stopped" | "paused" | "restart";
export type StreamCounters = { read: number; written: number; dead_lettered: number; skipped: number; transactions: number; collisions: number };

export type StreamContext = {
  sourceId: string;
  connector: ECMConnector;
  /** The lease's fencing token (the caller took the lease: stream/lease.ts). */
  token: bigint;
  leaseSeconds: number;
  runId: string | null;
  counters: StreamCounters;
  /** Called once the change stream is open. */
  onStreaming?: () => Promise<void> | void;
  /** Called after each committed batch (the stream got somewhere: a retry's backoff starts over). */
  onCommitted?: () => void;
  /** Entities taken out of pause: their skipped changes are recovered by re-snapshotting them. */
  onResumed?: (entities: string[]) => Promise<void>;
  /** Checked every control tick: true when this worker must stop (SIGTERM). */
  shouldExit?: () => boolean;
  timing?: { controlMs?: number; heartbeatMs?: number; slotMs?: number };
};

export async function runStream(ctx: StreamContext): Promise<StreamEnd> {
  const { sourceId, counters } = ctx;
  const lease = new StreamLease(sourceId, ctx.token, ctx.leaseSeconds);
  const source = await getSource(sourceId);
  const { version, mappings } = await getMappings(sourceId);
  if (!mappings.length) throw new AppError("BAD_REQUEST", "this source has no mapping yet: save one before starting its stream", { category: "CONFIGURATION" });
  if (!capturesChanges(source.config)) {
    throw new AppError("BAD_REQUEST", 'this source does not capture changes: its connector type cannot, or options.change_tracking is not "cdc"', { category: "CONFIGURATION" });
  }
  const connector = requireCapability(ctx.connector, "openChanges", "stream changes");
  const codec = cursorCodec(source.connector_type);

  // The plan per mapped entity, checked against the catalog before anything is read.
  const plans = await planEntities(connector, mappings);
  // The capture follows this stream's mapping only while it is the latest (store/capture-lock.ts),
  // and must still be the one the store's positions came from (pipeline/capture.ts).
  const attached = await captureForStream(connector, source, [...plans.keys()], version);
  if (!attached) return "restart"; // a newer mapping was saved meanwhile: load it
  if (attached.added.length) log.info({ source_id: sourceId, entities: attached.added }, "capture now includes");
  // The generation may be new (the stream made the first capture): read the cursor after it.
  const row = (await getStream(sourceId))!;
  const order = { generation: attached.generation, snapshot: false };
  await ownerUpdate(sourceId, ctx.token, { status: "starting", error: null, error_category: null });

  // Entities resumed while no stream ran (or before this stream's owner noticed and queued their
  // re-snapshot): their changes skipped up to the durable cursor are recovered now.
  const resumedMeanwhile = row.skipped_entities.filter((e) => !row.paused_entities.includes(e) && plans.has(e));
  if (resumedMeanwhile.length) {
    log.info({ source_id: sourceId, entities: resumedMeanwhile }, "re-snapshotting entities resumed while their changes were skipped");
    await ctx.onResumed?.(resumedMeanwhile);
    await ownerUpdate(sourceId, ctx.token, { skipped_entities: row.paused_entities });
  }
  const hardDeletes = source.config.options.deletes === "hard";
  // Tombstones left while a snapshot or replay ran (hard deletes purge only when none runs).
  if (hardDeletes) await purgeTombstones(pgPool(), sourceId);

  const guard = new SchemaGuard(row.known_schemas, row.schema_policy, (entity) => plans.get(entity)?.mappedColumns ?? new Set());
  const batcher = new Batcher(row.batch_size, codec, row.cursor);
  const insertHint = new InsertHint();
  let paused = new Set(row.paused_entities);
  // The columns the guard knows, written with the next batch (null: unchanged).
  let knownSchemas: Record<string, string[]> | null = null;
  const include = new Set(row.include_operations);
  let end: StreamEnd | null = null;
  // The first error that stops the stream (a failed write, a lost lease, a control tick that could
  // not queue a resumed entity's snapshot): once set, nothing more is committed.
  let failure: unknown = null;
  let lastAppliedAt: Date | null = null;
  let waiting = false; // the loop waits for the source: everything received is handled
  let inTransaction = false;
  let writesInFlight = 0;
  const idle = () => waiting && !inTransaction && batcher.empty && writesInFlight === 0;

  // The loop's control writes (lease, controls, a heartbeat's flush) go through one queue, batches
  // through `commits` (below): cursor writes never reorder.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn);
    chain = next.catch(() => {});
    return next;
  };

  // Nothing streamed yet: from where the capture started (before the snapshot's first read), so a
  // source that keeps no position of its own for us (MySQL's binlog) misses nothing committed since.
  const changes: ChangeStream = await connector.openChanges([...plans.keys()], row.cursor ?? row.capture_start);
  const fail = (e: unknown) => {
    failure ??= e;
    void changes.close();
  };
  const stopWith = (reason: StreamEnd) => {
    end ??= reason;
    void changes.close();
  };

  // Changes read per entity since the last batch (reported to the metrics once a batch, not per change).
  const readSinceFlush = new Map<string, number>();
  // Batches commit in stream order, the next one writing while the one before commits
  // (stream/ordered-commits.ts); a failed one stops the stream, and nothing after it commits.
  // While a snapshot or replay of the source writes too, one batch at a time: its chunks hold keys
  // of both batches, and two in flight would meet it in deadlocks (broken by the store, but each
  // one a stream restart).
  const commits = new OrderedCommits();
  let othersWriting = true; // until the first control tick says otherwise
  // Writes what is waiting and moves the cursor to the last whole commit, in one unit of work;
  // only then is that cursor acknowledged. Callers already inside `serial` call flushNow.
  const flushNow = async () => {
    if (failure) throw failure;
    const builtSeconds = batcher.age() / 1000;
    const batch = batcher.take();
    if (!batch) return;
    // The columns judged so far, as they stand now (the guard's map changes as later changes are
    // read): a batch records only what the changes before it were judged against.
    const known = knownSchemas && Object.assign(bareObject<string[]>(), knownSchemas);
    knownSchemas = null;
    for (const [entity, n] of readSinceFlush) recordRead("stream", sourceId, entity, n);
    readSinceFlush.clear();
    if (batch.writes.length) recordBatchBuilt("stream", builtSeconds);
    const skipped = [...paused];
    await commits.submit(othersWriting ? null : footprintOf(batch), async (sequence) => {
      writesInFlight++;
      try {
        const result = await commitBatch({
          sourceId,
          mappingVersion: version,
          order,
          runId: ctx.runId,
          writes: batch.writes,
          truncates: batch.truncates,
          deadLetters: batch.deadLetters,
          completion: { kind: "cursor", token: ctx.token, cursor: batch.target?.cursor ?? null, committed_at: batch.target?.committed_at ?? null, skipped_entities: skipped, known_schemas: known },
          hardDeletes,
          insertHint: batch.allInserts ? insertHint : undefined,
          sequence,
        });
        ctx.onCommitted?.();
        counters.written += result.written;
        counters.collisions += result.collisions.length;
        counters.dead_lettered += result.dead_lettered.length;
        if (batch.target) {
          lastAppliedAt = batch.target.committed_at ?? lastAppliedAt;
          await changes.ack(batch.target.cursor); // only now: the store holds everything before it
        }
      } catch (e) {
        fail(e);
        throw e;
      } finally {
        writesInFlight--;
      }
    });
  };
  const flush = () => serial(flushNow);
  // Batches are written behind the reading (a flush returns once the batch before it committed,
  // stream/ordered-commits.ts); a write that fails stops the stream.
  const behind = new WriteBehind({ onError: fail });
  const flushBehind = () => behind.submit(flush);

  const onRow = async (change: RowChange) => {
    counters.read++;
    readSinceFlush.set(change.entity, (readSinceFlush.get(change.entity) ?? 0) + 1);
    inTransaction = true;
    const plan = plans.get(change.entity);
    if (!plan || paused.has(change.entity) || !include.has(change.kind)) {
      counters.skipped++;
      return;
    }
    const mapped: Mapped = { writes: [], deadLetters: [] };
    mapChange(plan.mappers, change, mapped);
    if (batcher.add(mapped, change.kind === "insert")) await flushBehind();
  };

  // A change of columns under policy "pause" stops the stream before anything is applied under the
  // new columns; what was decoded under the old ones is written first (the cursor moves only past
  // whole commits), so the approved stream resumes at the change itself, not before it.
  const judgeSchema = async (entity: string, columns: { name: string; type: string }[], seed: boolean) => {
    try {
      return guard.check(entity, columns, seed);
    } catch (e) {
      if (e instanceof SchemaPause && !failure) {
        await behind.quiesce();
        if (!failure) await flush();
        if (!failure) await commits.drain();
      }
      throw e;
    }
  };

  const timing = { controlMs: 1000, heartbeatMs: 10_000, slotMs: 5000, ...ctx.timing };
  const timers = [
    setInterval(() => {
      void serial(async () => {
        // One statement renews the lease and reads the operator's controls.
        const now = await lease.renew();
        if (!now) return fail(new LeaseLostError(sourceId));
        if (!now.enabled || ctx.shouldExit?.()) return stopWith("stopped");
        othersWriting = now.others_writing;
        if (now.mapping_version !== version) return stopWith("restart");
        const resumed = [...paused].filter((e) => !now.paused_entities.includes(e) && plans.has(e));
        // Changes skipped while paused are recovered by a snapshot that starts after this point:
        // the entity counts as resumed (applied, and no longer recorded as skipped at the next
        // commit) only once that snapshot is queued; if queuing fails, the stream stops first.
        if (resumed.length) await ctx.onResumed?.(resumed);
        paused = new Set(now.paused_entities);
        if (resumed.length) {
          // A batch in flight records the entities skipped before this tick: it commits first.
          await commits.drain();
          await ownerUpdate(sourceId, ctx.token, { skipped_entities: [...paused] });
        }
        // A heartbeat's cursor (idle tables on a busy server) is written here, once a tick: each
        // write makes WAL of its own, which must not turn into a heartbeat of its own every time.
        if (waiting && !inTransaction && !batcher.empty) await flushNow();
      }).catch(fail);
    }, timing.controlMs),
    // Idle tables on a busy server: a sign of life lets the cursor follow the source's log.
    setInterval(() => {
      if (idle()) void changes.ping().catch(() => {});
    }, timing.heartbeatMs),
    setInterval(() => void observe().catch((e) => log.warn({ source_id: sourceId, error: e }, "could not observe the capture")), timing.slotMs),
  ];
  const observe = async () => {
    if (!connector.captureStatus) return;
    const status = await connector.captureStatus();
    const lagSeconds = idle() || !lastAppliedAt ? 0 : Math.max(0, (Date.now() - lastAppliedAt.getTime()) / 1000);
    await recordCaptureStatus(sourceId, ctx.token, status, lagSeconds);
  };

  try {
    await ownerUpdate(sourceId, ctx.token, { status: "streaming", retry_attempt: 0, next_retry_at: null, error: null, error_category: null });
    await ctx.onStreaming?.();
    void observe().catch(() => {});
    const iterator = changes[Symbol.asyncIterator]();
    for (;;) {
      waiting = true;
      const next = await iterator.next();
      waiting = false;
      if (next.done || failure) break;
      for (const change of next.value) {
        if (failure) break;
        switch (change.kind) {
          case "schema": {
            const seen = await judgeSchema(change.entity, change.columns, change.seed);
            if (seen?.change) log.warn({ source_id: sourceId, ...seen.change }, "source columns changed; continuing (schema policy: continue)");
            // Recorded with the batch that holds the changes judged against them, never ahead of it:
            // after a crash the change of columns is judged again.
            if (seen) knownSchemas = seen.known;
            break;
          }
          case "truncate":
            counters.read++;
            inTransaction = true;
            if (!paused.has(change.entity)) batcher.truncate(change.entity, change.order, change.cursor);
            break;
          case "commit":
            if (change.committed_at) counters.transactions++;
            inTransaction = false;
            if (batcher.commit(change.cursor, change.committed_at, change.more)) await flushBehind();
            break;
          default:
            await onRow(change);
        }
      }
    }
    // A graceful end: what was read and mapped is written (the cursor moves only past whole
    // commits), unless a batch failed: then nothing more is written and the stream fails.
    await behind.quiesce();
    if (failure) throw failure;
    await flush();
    await commits.drain();
    return end ?? "stopped";
  } catch (e) {
    // Nothing decoded under the old mapping was committed: reload it and resume from the cursor.
    if ((failure ?? e) instanceof MappingChangedError) return "restart";
    if (e instanceof SchemaPause) {
      // The new columns travel with the pending change: approving it makes them the known ones.
      await ownerUpdate(sourceId, ctx.token, { status: "paused", pending_schema: JSON.stringify({ ...e.change, columns: e.columns }), error: e.message, error_category: "CONFIGURATION" });
      return "paused";
    }
    throw failure ?? e;
  } finally {
    for (const t of timers) clearInterval(t);
    await changes.close().catch((e) => log.warn({ source_id: sourceId, error: e }, "could not close the change stream"));
    await behind.quiesce();
    await chain.catch(() => {});
    await commits.drain().catch(() => {});
  }
}
