// A source's change stream into the context store (the spec's "Change Data Capture" and "Cursor
// Management"). One owner at a time (the lease; see store/streams.ts). The loop:
//   receive pgoutput messages in commit order → map each change with the compiled mapping →
//   buffer at most batch_size writes → in ONE product-database transaction write the contexts,
//   the dead letters and the cursor (the end LSN of the last complete commit, fenced by the
//   lease token) → only then confirm that LSN to the source.
// So the slot's confirmed_flush_lsn is never ahead of the durable cursor, a crash redoes at most
// what was not committed, and redoing it changes nothing (writes are guarded by position).
// A transaction larger than a batch is written in parts; the cursor moves past it only with its
// last part, so a crash in between replays the whole transaction (idempotently).
import type pg from "pg";
import { AppError } from "../errors/app-error.ts";
import { pgPool } from "../db.ts";
import { logger, redact } from "../logger.ts";
import { bareObject } from "../json/safe.ts";
import type { DescribedEntity } from "../connectors/postgresql/catalog.ts";
import { entityName } from "../connectors/postgresql/catalog.ts";
import type { PostgresConnector } from "../connectors/postgresql/connector.ts";
import { changePosition, formatLsn, lsnCursor, parseLsn } from "../connectors/postgresql/lsn.ts";
import { slotGone } from "../connectors/postgresql/capture.ts";
import { replicationNames } from "../connectors/postgresql/connection.ts";
import { decodeTuple, type Relation, type ReplicationMessage, type ReplicationSession, type TextTuple } from "../connectors/postgresql/replication.ts";
import type { SourceRecord } from "../connectors/types.ts";
import { compileMapping, MappingDataError, type CompiledMapping } from "../mapping/compile.ts";
import { getMappings, transformEnv } from "../mapping/service.ts";
import { InsertHint, purgeTombstones, tombstoneEntity, writeContexts, type ContextWrite } from "../store/contexts.ts";
import { recordDeadLetters, type NewDeadLetter } from "../store/dead-letters.ts";
import { WriteBehind } from "./write-behind.ts";
import { latestMappingVersion, withCaptureLock } from "../store/capture-lock.ts";
import { commitCursor, getStream, ownerUpdate, renewLease, LeaseLostError, MappingChangedError } from "../store/streams.ts";

const log = logger("stream");

export type StreamEnd = "stopped" | "paused" | "restart";
export type StreamCounters = { read: number; written: number; dead_lettered: number; skipped: number; transactions: number; collisions: number };

export type StreamContext = {
  sourceId: string;
  connector: PostgresConnector;
  token: bigint;
  leaseSeconds: number;
  runId: string | null;
  counters: StreamCounters;
  /** Called once replication has started (the stream is healthy again). */
  onStreaming?: () => Promise<void> | void;
  /** Entities taken out of pause: their skipped changes are recovered by re-snapshotting them. */
  onResumed?: (entities: string[]) => Promise<void>;
  /** Checked between messages: true when this worker must stop (SIGTERM). */
  shouldExit?: () => boolean;
  timing?: { controlMs?: number; heartbeatMs?: number; slotMs?: number };
};

type EntityPlan = { entity: string; described: DescribedEntity; mappers: CompiledMapping[]; mappedColumns: Set<string> };
type RelationPlan = { plan: EntityPlan | null; keyColumns: string[] };
type Pending =
  // insert: the write comes from an INSERT (its context is likely new to the store)
  | { kind: "write"; write: ContextWrite; key: string[]; payload: SourceRecord; insert?: boolean }
  | { kind: "truncate"; entity: string; position: bigint; cursor: string };

/** A batch is written at the latest this long after it started filling (commit-to-store latency bound). */
const MAX_BATCH_WAIT_MS = 25;

const columnSignature = (name: string, typeOid: number) => `${name} ${typeOid}`;

export async function runStream(ctx: StreamContext): Promise<StreamEnd> {
  const { sourceId, connector, token, counters } = ctx;
  const row = (await getStream(sourceId))!;
  const { version, mappings } = await getMappings(sourceId);
  if (!mappings.length) throw new AppError("BAD_REQUEST", "this source has no mapping yet: save one before starting its stream", { category: "CONFIGURATION" });
  if (!connector.capturesChanges()) {
    throw new AppError("BAD_REQUEST", 'this source is configured for snapshots only: set options.change_tracking to "cdc" to stream changes', { category: "CONFIGURATION" });
  }

  // The plan per mapped table, checked against the catalog before anything is read.
  const plans = new Map<string, EntityPlan>();
  for (const m of mappings) {
    const plan = plans.get(m.source.table) ?? { entity: m.source.table, described: await connector.entity(m.source.table), mappers: [], mappedColumns: new Set<string>() };
    const mapper = compileMapping(m, transformEnv());
    plan.mappers.push(mapper);
    for (const step of mapper.steps) for (const c of step.reads) plan.mappedColumns.add(c);
    plans.set(m.source.table, plan);
  }
  for (const plan of plans.values()) checkDeletesMappable(plan);

  // Slot before publication changes: a lost or dropped slot is FATAL, never silently replaced.
  let slot = await connector.slotInfo();
  if (slot.active && slot.active_pid) {
    // We hold the lease, so whoever still holds the slot is a stale session (a dead worker's
    // walsender that has not noticed yet, or a cut connection): end it instead of waiting out
    // the server's wal_sender_timeout.
    log.warn("slot held by a stale session; terminating it", { source_id: sourceId, pid: slot.active_pid });
    await connector.terminateSlotHolder(slot.active_pid).catch((error) => log.warn("could not end the stale session (needs the same role or pg_signal_backend); waiting for the server to", { source_id: sourceId, error }));
    for (let i = 0; i < 50 && slot.active; i++) {
      await new Promise((r) => setTimeout(r, 100));
      slot = await connector.slotInfo();
    }
  }
  const gone = slotGone(replicationNames(sourceId).slot, slot, row.cursor !== null);
  if (gone) throw gone;
  // The publication follows this stream's mapping only while it is the latest (store/capture-lock.ts).
  const publication = await withCaptureLock(sourceId, async (db) => {
    if ((await latestMappingVersion(db, sourceId)) !== version) return null;
    const synced = await connector.syncPublication([...plans.keys()]);
    if (!slot.exists) await connector.prepareCapture([...plans.keys()]);
    return synced;
  });
  if (!publication) return "restart"; // a newer mapping was saved meanwhile: load it
  if (publication.added.length) log.info("publication now includes", { source_id: sourceId, tables: publication.added });

  // Columns as last seen or approved; first sight records the catalog's.
  // Keyed by entity (a source's table name): null-prototype, so no table name reaches a prototype.
  const known: Record<string, string[]> = Object.assign(bareObject<string[]>(), row.known_schemas);
  for (const plan of plans.values()) {
    known[plan.entity] ??= plan.described.columns.map((c) => columnSignature(c.name, c.type_oid));
  }
  await ownerUpdate(sourceId, token, { known_schemas: JSON.stringify(known), status: "starting", error: null, error_category: null });

  // Entities resumed while no stream ran (or before this stream's owner noticed and queued their
  // re-snapshot): their changes skipped up to the durable cursor are recovered now.
  const resumedMeanwhile = row.skipped_entities.filter((e) => !row.paused_entities.includes(e) && plans.has(e));
  if (resumedMeanwhile.length) {
    log.info("re-snapshotting entities resumed while their changes were skipped", { source_id: sourceId, entities: resumedMeanwhile });
    await ctx.onResumed?.(resumedMeanwhile);
    await ownerUpdate(sourceId, token, { skipped_entities: row.paused_entities });
  }

  const hardDeletes = connector.hardDeletes();
  // Tombstones left while a snapshot or replay ran (hard deletes purge only when none runs).
  if (hardDeletes) await purgeTombstones(pgPool(), sourceId);

  const parsers = await connector.valueParsers();
  const relations = new Map<number, RelationPlan>();
  let paused = new Set(row.paused_entities);
  const include = new Set(row.include_operations);
  const batchSize = row.batch_size;

  let durable = row.cursor ? parseLsn(row.cursor) : 0n;
  let pending: Pending[] = [];
  let pendingSince = Date.now(); // when the current batch started filling
  let deadLetters: NewDeadLetter[] = [];
  let tx: { commitLsn: bigint; commitTime: Date; index: number } | null = null;
  // The end of the last complete commit (or a keepalive's WAL end, which has no commit time).
  let lastCommit: { endLsn: bigint; commitTime: Date | null } | null = null;
  let lastAppliedAt: Date | null = null;
  let end: StreamEnd | null = null;
  let session: ReplicationSession | null = null;
  const insertHint = new InsertHint();

  // Every product-database write of this loop goes through one queue: cursor writes never reorder.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn);
    chain = next.catch(() => {});
    return next;
  };

  // Writes what is pending and moves the cursor to the last complete commit, in one transaction;
  // callers already inside `serial` call it directly, everyone else through flush().
  // A batch whose write failed is gone from memory: nothing after it may move the cursor (a
  // later batch or keepalive would otherwise commit a cursor past changes never written).
  let writeFailed: unknown = null;
  // The first error that stops the session (a failed write, a lost lease, a control tick that
  // could not queue a resumed entity's snapshot): once set, nothing more is committed.
  let failure: unknown = null;
  // Batches taken from `pending` and not yet committed: the stream is not idle while any is.
  let writesInFlight = 0;
  async function flushNow() {
    if (writeFailed ?? failure) throw writeFailed ?? failure;
    pendingSince = Date.now();
    const items = pending;
    const failed = deadLetters;
    pending = [];
    deadLetters = [];
    const target = lastCommit && lastCommit.endLsn > durable ? lastCommit : null;
    if (!items.length && !failed.length && !target) return;
    writesInFlight++;
    let held: pg.PoolClient | null = null;
    try {
      const client = (held = await pgPool().connect());
      await client.query("BEGIN");
      let writes: Extract<Pending, { kind: "write" }>[] = [];
      const writeOut = async () => {
        if (!writes.length) return;
        const result = await writeContexts(client, sourceId, version, writes.map((w) => w.write), writes.every((w) => w.insert) ? insertHint : undefined);
        counters.written += result.written;
        counters.collisions += result.collisions.length;
        for (const r of result.rejected) {
          const w = writes.find((x) => x.write.context_type === r.context_type && x.write.context_id.replaceAll("\u0000", "\\u0000") === r.context_id);
          if (w) failed.push(deadLetter(w.write.entity, w.write.context_type, w.key, w.write.cursor, w.write.position, { message: r.message, code: "STORE_REJECTED" }, w.payload));
        }
        writes = [];
      };
      for (const item of items) {
        if (item.kind === "write") writes.push(item);
        else {
          await writeOut();
          // TRUNCATE: every context of the entity becomes a tombstone at the truncate's position.
          counters.written += await tombstoneEntity(client, sourceId, item.entity, item.position, item.cursor);
        }
      }
      await writeOut();
      if (hardDeletes) {
        const truncated = items.some((i) => i.kind === "truncate");
        const deleted = items.flatMap((i) => (i.kind === "write" && i.write.deleted ? [i.write] : []));
        await purgeTombstones(client, sourceId, truncated ? undefined : deleted);
      }
      await recordDeadLetters(client, sourceId, ctx.runId, version, failed);
      // The batch commits only under the mapping it was decoded with (a newer one may map a table
      // whose changes this batch skipped); otherwise it rolls back and the stream restarts from
      // the durable cursor under the new mapping (docs/cdc.md, "What the stream skips").
      const current = await commitCursor(client, sourceId, token, target ? formatLsn(target.endLsn) : null, target?.commitTime ?? null, [...paused]);
      if (current !== version) throw new MappingChangedError(sourceId, version, current);
      await client.query("COMMIT");
    } catch (e) {
      await held?.query("ROLLBACK").catch(() => {});
      writeFailed ??= e;
      throw e;
    } finally {
      held?.release();
      writesInFlight--;
    }
    counters.dead_lettered += failed.length;
    if (target) {
      durable = target.endLsn;
      lastAppliedAt = target.commitTime ?? lastAppliedAt;
      await session?.confirm(durable); // only now: the store holds everything before it
    }
  }
  const flush = () => serial(flushNow);

  // Batches are written behind the decoding (one in flight); "confirm only after commit" still
  // comes from flushNow. A write that fails stops the session at once.
  const behind = new WriteBehind((e) => fail(e));
  const flushBehind = () => behind.submit(flush);

  function deadLetter(entity: string, contextType: string, key: string[], cursor: string | null, position: bigint, error: NewDeadLetter["error"], payload: SourceRecord): NewDeadLetter {
    return { entity, context_type: contextType, key, cursor, position, category: "DATA", error, payload: redact(payload) as object };
  }

  function relationPlan(relation: Relation): RelationPlan {
    let rp = relations.get(relation.relationOid);
    if (!rp) rp = onRelation(relation);
    return rp;
  }

  function onRelation(relation: Relation): RelationPlan {
    const entity = entityName(relation.schema, relation.name);
    const plan = plans.get(entity) ?? null;
    const rp: RelationPlan = {
      plan,
      keyColumns: plan?.described.primary_key.length ? plan.described.primary_key : relation.keyColumns,
    };
    relations.set(relation.relationOid, rp);
    if (!plan) return rp;
    const now = relation.columns.map((c) => columnSignature(c.name, c.typeOid));
    const before = new Set(known[entity] ?? []);
    const added = now.filter((c) => !before.has(c));
    const removed = [...before].filter((c) => !now.includes(c));
    if (!added.length && !removed.length) return rp;
    const names = new Set(relation.columns.map((c) => c.name));
    const lostMapped = [...plan.mappedColumns].filter((c) => !names.has(c));
    if (lostMapped.length) {
      throw new AppError(
        "BAD_REQUEST",
        `column ${lostMapped.join(", ")} of ${entity} was dropped at the source, but the mapping uses it: remove or change those fields in the mapping (or restore the column), then start the stream again`,
        { category: "CONFIGURATION" },
      );
    }
    const change = { entity, added: added.map((c) => c.split(" ")[0]!), removed: removed.map((c) => c.split(" ")[0]!) };
    if (row.schema_policy === "pause") {
      // Stop before applying anything under the new schema; approval records it and resumes.
      throw new SchemaPause(change, now);
    }
    log.warn("source columns changed; continuing (schema policy: continue)", { source_id: sourceId, ...change });
    known[entity] = now;
    void serial(() => ownerUpdate(sourceId, token, { known_schemas: JSON.stringify(known) }));
    return rp;
  }

  function decode(rp: RelationPlan, relation: Relation, tuple: TextTuple): { record: SourceRecord; unchanged: Set<string>; key: string[] } {
    return { ...decodeTuple(parsers, relation, tuple), key: rp.keyColumns.map((k) => tuple[k] ?? "") };
  }

  async function onChange(message: Extract<ReplicationMessage, { tag: "insert" | "update" | "delete" }>) {
    if (!tx) throw new Error(`${message.tag} outside a transaction`);
    const rp = relationPlan(message.relation);
    const index = tx.index++;
    counters.read++;
    if (!rp.plan || paused.has(rp.plan.entity) || !include.has(message.tag)) {
      counters.skipped++;
      return;
    }
    const { entity, mappers } = rp.plan;
    const position = changePosition(tx.commitLsn, index);
    const cursor = lsnCursor(tx.commitLsn);
    if (message.tag === "delete") {
      const { record, key } = decode(rp, message.relation, message.old ?? message.key ?? {});
      for (const mapper of mappers) {
        try {
          const id = mapper.contextId(record);
          pending.push({ kind: "write", key, payload: record, write: { context_type: mapper.contextType, context_id: id, data: null, entity, position, cursor, deleted: true } });
        } catch (e) {
          if (!(e instanceof MappingDataError)) throw e;
          deadLetters.push(deadLetter(entity, mapper.contextType, key, cursor, position, { message: e.message, field: e.field, transform: e.transform ?? null }, record));
        }
      }
    } else {
      const { record, unchanged, key } = decode(rp, message.relation, message.new);
      const oldTuple = message.tag === "update" ? (message.old ?? message.key) : null;
      const old = oldTuple ? decode(rp, message.relation, oldTuple).record : null;
      for (const mapper of mappers) {
        try {
          const keep = unchanged.size ? mapper.steps.filter((s) => s.target !== "context_id" && s.reads.some((c) => unchanged.has(c))).map((s) => s.path) : [];
          if (unchanged.size && mapper.idReads.some((c) => unchanged.has(c))) {
            throw new MappingDataError("context_id is built from a TOASTed column the change did not carry; set REPLICA IDENTITY FULL on the table", "context_id", 0);
          }
          const mapped = mapper.map(record);
          if (old) {
            // The key changed: the context under the old id is gone.
            const oldId = mapper.contextId(old);
            if (oldId !== mapped.context_id) {
              pending.push({ kind: "write", key, payload: old, write: { context_type: mapper.contextType, context_id: oldId, data: null, entity, position, cursor, deleted: true } });
            }
          }
          pending.push({ kind: "write", key, payload: record, insert: message.tag === "insert", write: { ...mapped, entity, position, cursor, deleted: false, keep: keep.length ? keep : undefined } });
        } catch (e) {
          if (!(e instanceof MappingDataError)) throw e;
          deadLetters.push(deadLetter(entity, mapper.contextType, key, cursor, position, { message: e.message, field: e.field, transform: e.transform ?? null }, record));
        }
      }
    }
    // Bounded buffering: a transaction larger than a batch is written in parts.
    if (pending.length >= batchSize) await flushBehind();
  }

  async function onMessage(message: ReplicationMessage) {
    switch (message.tag) {
      case "begin":
        tx = { commitLsn: message.commitLsn, commitTime: message.commitTime, index: 0 };
        return;
      case "relation":
        onRelation(message.relation);
        return;
      case "insert":
      case "update":
      case "delete":
        return onChange(message);
      case "truncate": {
        if (!tx) throw new Error("truncate outside a transaction");
        for (const relation of message.relations) {
          const rp = relationPlan(relation);
          const index = tx.index++;
          counters.read++;
          if (!rp.plan || paused.has(rp.plan.entity)) continue;
          pending.push({ kind: "truncate", entity: rp.plan.entity, position: changePosition(tx.commitLsn, index), cursor: lsnCursor(tx.commitLsn) });
        }
        return;
      }
      case "commit":
        lastCommit = { endLsn: message.endLsn, commitTime: message.commitTime };
        tx = null;
        counters.transactions++;
        // Caught up with what arrived, a full batch, or the oldest change waiting too long (a
        // steady trickle never leaves the backlog empty): make it durable and confirm it.
        if (pending.length >= batchSize || session?.backlog() === 0 || Date.now() - pendingSince >= MAX_BATCH_WAIT_MS) await flushBehind();
        return;
    }
  }

  /** Every received message applied, nothing pending, no transaction half read. */
  const idle = () => !tx && !pending.length && writesInFlight === 0 && !!session?.drained();

  const timing = { controlMs: 1000, heartbeatMs: 10_000, slotMs: 5000, ...ctx.timing };
  let keepaliveTarget = 0n;
  const stopWith = (reason: StreamEnd) => {
    end ??= reason;
    void session?.stop();
  };

  session = await connector.replicationSession({
    onMessage,
    onKeepalive: (walEnd) => {
      // Idle tables on a busy server: nothing of ours before walEnd, so the cursor may move there
      // (a heartbeat that keeps the slot from retaining WAL). Only when every received message is
      // applied and no transaction is half read.
      if (walEnd > durable && idle()) keepaliveTarget = walEnd;
    },
  });

  const timers: NodeJS.Timeout[] = [];
  const fail = (e: unknown) => {
    failure ??= e;
    void session?.stop();
  };
  timers.push(
    setInterval(() => {
      void serial(async () => {
        // One statement renews the lease and reads the operator's controls.
        const now = await renewLease(sourceId, token, ctx.leaseSeconds);
        if (!now) return fail(new LeaseLostError(sourceId));
        if (!now.enabled) return stopWith("stopped");
        if (ctx.shouldExit?.()) return stopWith("stopped");
        if (now.mapping_version !== version) return stopWith("restart");
        const resumed = [...paused].filter((e) => !now.paused_entities.includes(e) && plans.has(e));
        // Changes skipped while paused are recovered by a snapshot that starts after this point:
        // the entity counts as resumed (applied, and no longer recorded as skipped at the next
        // commit) only once that snapshot is queued; if queuing fails, the stream stops first.
        if (resumed.length) await ctx.onResumed?.(resumed);
        paused = new Set(now.paused_entities);
        if (resumed.length) await ownerUpdate(sourceId, token, { skipped_entities: [...paused] });
        if (keepaliveTarget > durable && idle() && keepaliveTarget > (lastCommit?.endLsn ?? 0n)) {
          lastCommit = { endLsn: keepaliveTarget, commitTime: null };
          await flushNow();
        }
      }).catch(fail);
    }, timing.controlMs),
    setInterval(() => {
      if (idle()) void session?.ping().catch(() => {});
    }, timing.heartbeatMs),
    setInterval(() => {
      void observeSlot().catch((e) => log.warn("could not observe the slot", { source_id: sourceId, error: e }));
    }, timing.slotMs),
  );

  async function observeSlot() {
    const info = await connector.slotInfo();
    const lagSeconds = idle() || !lastAppliedAt ? 0 : Math.max(0, (Date.now() - lastAppliedAt.getTime()) / 1000);
    await ownerUpdate(sourceId, token, {
      slot_state: JSON.stringify({
        exists: info.exists,
        active: info.active,
        wal_status: info.wal_status,
        confirmed_flush_lsn: info.confirmed_flush_lsn,
        retained_bytes: info.retained_bytes,
        lag_bytes: info.lag_bytes,
        lag_seconds: Math.round(lagSeconds * 10) / 10,
        observed_at: new Date().toISOString(),
      }),
    });
  }

  try {
    const started = session.run(durable);
    await ownerUpdate(sourceId, token, { status: "streaming", retry_attempt: 0, next_retry_at: null, error: null, error_category: null });
    await ctx.onStreaming?.();
    void observeSlot().catch(() => {});
    await started;
    // A graceful end: what was read and mapped is written (the cursor moves only past whole
    // commits), unless a batch failed: then nothing more is written and the stream fails.
    await behind.quiesce();
    if (failure ?? writeFailed) throw failure ?? writeFailed;
    await flush();
    return end ?? "stopped";
  } catch (e) {
    // Nothing decoded under the old mapping was committed: reload it and resume from the cursor.
    if ((failure ?? e) instanceof MappingChangedError) return "restart";
    if (failure && !(e instanceof SchemaPause)) throw failure;
    if (e instanceof SchemaPause) {
      await ownerUpdate(sourceId, token, { status: "paused", pending_schema: JSON.stringify(e.change), error: e.message, error_category: "CONFIGURATION" });
      return "paused";
    }
    throw e;
  } finally {
    for (const t of timers) clearInterval(t);
    await session.stop();
    await chain.catch(() => {});
  }
}

/** A schema change under the "pause" policy: stream stops until an operator approves. */
export class SchemaPause extends Error {
  constructor(
    readonly change: { entity: string; added: string[]; removed: string[] },
    readonly columns: string[],
  ) {
    super(`columns of ${change.entity} changed at the source (added: ${change.added.join(", ") || "none"}; removed: ${change.removed.join(", ") || "none"}); the stream is paused until the change is approved`);
    this.name = "SchemaPause";
  }
}

/** Deletes carry only the key unless REPLICA IDENTITY FULL: context_id must then come from key columns. */
function checkDeletesMappable(plan: EntityPlan) {
  if (plan.described.replica_identity === "full") return;
  if (plan.described.replica_identity === "nothing") {
    throw new AppError("BAD_REQUEST", `${plan.entity} has REPLICA IDENTITY NOTHING: its updates and deletes cannot be captured. Run ALTER TABLE ${plan.entity} REPLICA IDENTITY DEFAULT (or FULL).`, {
      category: "CONFIGURATION",
    });
  }
  const key = new Set(plan.described.primary_key);
  for (const mapper of plan.mappers) {
    const outside = mapper.idReads.filter((c) => !key.has(c));
    if (outside.length) {
      throw new AppError(
        "BAD_REQUEST",
        `context_id of ${mapper.contextType} is built from ${outside.join(", ")}, which deletes of ${plan.entity} do not carry (they carry the primary key only). ` +
          `Map context_id from key columns, or run ALTER TABLE ${plan.entity} REPLICA IDENTITY FULL.`,
        { category: "CONFIGURATION" },
      );
    }
  }
}
