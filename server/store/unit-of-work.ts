// The product's one unit of work (the central promise, written once): a batch's contexts, its dead
// letters and what marks it done (a snapshot chunk's checkpoint, a stream batch's fenced cursor, a
// replayed dead letter's resolution) commit in ONE transaction of the store, or none of it does.
// Snapshot chunks, stream batches and replays all commit through commitBatch().
//
// A record the store cannot hold (a context the store refuses) is not lost and does not stop the
// batch: it becomes a dead letter in the same transaction, and the caller hears which and why.
import type pg from "pg";
import type { SourceRecord } from "../connectors/types.ts";
import { inPgTransaction } from "../db.ts";
import { within } from "../errors/origin.ts";
import { recordCommit } from "../metrics/record.ts";
import { redact, shownKey } from "../secrets/redact.ts";
import { advanceCheckpoint, markTruncated, type ChunkSpan, type Moved } from "./checkpoints.ts";
import { purgeTombstones, shownContextId, tombstoneEntity, writeContexts, type Collision, type ContextWrite, type InsertHint, type StoreOrder } from "./contexts.ts";
import { recordDeadLetters, resolveDeadLetter, type NewDeadLetter } from "./dead-letters.ts";
import { commitCursor, MappingChangedError } from "./streams.ts";

export { MappingChangedError } from "./streams.ts";

/** A context to write, with the source record it came from (kept if the store refuses it). */
/**
 * A context write with its record: the key and its column names, the row as read, and whether the
 * context id is built from a secret-looking column (then a refusal shows it redacted).
 */
export type RecordWrite = ContextWrite & { key: string[]; key_columns: readonly string[]; payload: SourceRecord; secret_id?: boolean };
/**
 * Every live context of an entity older than `position` becomes a tombstone (TRUNCATE), applied
 * after the first `at` writes of the batch (where it happened among them).
 */
export type Truncate = { at: number; entity: string; position: bigint; cursor: string | null };

export type BatchCompletion =
  /**
   * A snapshot chunk of pass `pass` (stamped on its contexts): recorded in the entity's checkpoint
   * (which moves over it once every chunk before it committed too), only while the batch's run owns
   * that pass (else SupersededError), no TRUNCATE landed above its floor
   * (TruncatedDuringSnapshotError) and `mapping_version` is still the latest (MappingChangedError).
   */
  | { kind: "checkpoint"; entity: string; pass: bigint; chunk: ChunkSpan }
  /**
   * A stream batch: the durable cursor moves (null: it stays), fenced by the lease token, and only
   * while `mapping_version` is still the latest (else MappingChangedError and nothing commits).
   */
  | { kind: "cursor"; token: bigint; cursor: string | null; committed_at: Date | null; skipped_entities: string[]; known_schemas?: Record<string, string[]> | null }
  /** A replayed dead letter: resolved with `outcome`, or (without one) by what the write did. */
  | { kind: "replay"; dead_letter_id: string; outcome?: string };

export type Batch = {
  sourceId: string;
  mappingVersion: number;
  /** The batch's capture generation and kind: where its writes stand in the store's order. */
  order: StoreOrder;
  runId: string | null;
  writes: RecordWrite[];
  /** Stream batches only: TRUNCATEs among the writes, in order. */
  truncates?: Truncate[];
  deadLetters: NewDeadLetter[];
  completion: BatchCompletion;
  /** Deleted rows' contexts are removed, not kept as tombstones (options.deletes "hard"). */
  hardDeletes?: boolean;
  /** Rows likely new to the store go in by COPY (see InsertHint). */
  insertHint?: InsertHint;
  /** Stream batches: committed in order while the next one writes (pipeline/stream/ordered-commits.ts). */
  sequence?: CommitSequence;
};

/**
 * A batch's place in its stream's commit order. Each batch's transaction takes an order lock of
 * its own as it begins; the next batch writes meanwhile, then waits for that lock in the store
 * (never only in the worker: a wait the store sees is one its deadlock detector can break, say
 * against a snapshot chunk holding keys of both batches), and commits only if the batch before it
 * committed. So cursors still commit in stream order.
 */
export type CommitSequence = {
  lock: number;
  /** Called once this batch's transaction holds its order lock. */
  onLocked: () => void;
  /**
   * The batch before it (null: none in flight); `done` settles once that batch committed and was
   * acknowledged to the source (so acknowledgements keep their order too), or failed.
   */
  previous: { lock: number; done: Promise<void> } | null;
};

/** The store's advisory locks of stream commit order: the two-key form, this class, the batch's lock (the one-key form other locks use is a separate space). */
export const COMMIT_ORDER_LOCK = 0x45434d43; // "ECMC"

export type Refused = { entity: string; context_type: string; context_id: string; key: string[]; message: string };

export type BatchResult = {
  written: number;
  writtenByEntity: Map<string, number>;
  /** Records whose context id another source or entity holds (each became a dead letter in this transaction). */
  collisions: Collision[];
  /** Records the store refused (each became a dead letter in this transaction). */
  refused: Refused[];
  /** Dead letters recorded: the caller's and the refused records'. */
  dead_lettered: NewDeadLetter[];
  /**
   * A snapshot chunk: what its pass's checkpoint moved over with it (this chunk, and chunks that
   * had committed ahead of it; nothing when an earlier chunk is still in flight).
   */
  checkpointed?: Moved;
};

const KIND = { checkpoint: "snapshot", cursor: "stream", replay: "replay" } as const;

export function commitBatch(batch: Batch): Promise<BatchResult> {
  return within("store", async () => {
    const started = performance.now();
    // A snapshot chunk does not wait for its WAL flush: its contexts and checkpoint are one
    // transaction, so a store crash loses both together and the pass redoes the chunk. The
    // pass's last transaction (pipeline/snapshot.ts, finishPass) is flushed, and every chunk
    // before it with it, before the run may call the entity done.
    const begin = batch.completion.kind === "checkpoint" ? "BEGIN; SET LOCAL synchronous_commit = off" : "BEGIN";
    const sequence = batch.sequence;
    const result = await inPgTransaction(
      async (client) => {
        sequence?.onLocked();
        return writeBatch(client, batch);
      },
      sequence ? `${begin}; SELECT pg_advisory_xact_lock(${COMMIT_ORDER_LOCK}, ${sequence.lock})` : begin,
    );
    recordCommit(KIND[batch.completion.kind], batch.sourceId, (performance.now() - started) / 1000, result.writtenByEntity, result.dead_lettered);
    return result;
  });
}

async function writeBatch(client: pg.PoolClient, batch: Batch): Promise<BatchResult> {
  const { sourceId, mappingVersion } = batch;
  const result: BatchResult = { written: 0, writtenByEntity: new Map(), collisions: [], refused: [], dead_lettered: [...batch.deadLetters] };

  // Writes in order; a TRUNCATE between them applies at its place in the batch.
  const writeRun = async (writes: RecordWrite[]) => {
    if (!writes.length) return;
    const w = await writeContexts(client, sourceId, mappingVersion, writes, { ...batch.order, pass: batch.completion.kind === "checkpoint" ? batch.completion.pass : null, hint: writes.every((x) => !x.deleted) ? batch.insertHint : undefined });
    result.written += w.written;
    for (const [entity, n] of w.writtenByEntity) result.writtenByEntity.set(entity, (result.writtenByEntity.get(entity) ?? 0) + n);
    // What the store refuses is a DATA outcome of its record: a dead letter, never only a count.
    // A context id built from a secret-looking column is shown redacted wherever it is reported.
    const refusals = [
      ...w.rejected.map((r) => ({ context_type: r.context_type, context_id: r.context_id, code: "STORE_REJECTED", message: () => r.message, collision: null })),
      ...w.collisions.map((c) => ({
        context_type: c.context_type,
        context_id: c.context_id,
        code: "CONTEXT_ID_COLLISION",
        message: (id: string) =>
          `context ${c.context_type}/${id} is already written by ${c.held_by_source === null ? "another source" : `source ${c.held_by_source}`} (entity ${c.held_by}): give this mapping a context_type of its own, or a context_id that cannot collide`,
        collision: c,
      })),
    ];
    for (const r of refusals) {
      const write = writes.findLast((x) => x.context_type === r.context_type && shownContextId(x.context_id) === r.context_id);
      const shownId = write?.secret_id ? "[redacted]" : r.context_id;
      if (r.collision) result.collisions.push({ ...r.collision, context_id: shownId });
      if (!write) continue;
      const message = r.message(shownId);
      result.refused.push({ entity: write.entity, context_type: r.context_type, context_id: shownId, key: shownKey(write.key, write.key_columns), message });
      result.dead_lettered.push({
        entity: write.entity,
        context_type: write.context_type,
        key: write.key,
        key_columns: write.key_columns,
        cursor: write.cursor,
        position: write.position,
        category: "DATA",
        error: { message, code: r.code },
        payload: redact(write.payload) as object,
      });
    }
  };
  const truncates = batch.truncates ?? [];
  let from = 0;
  for (const t of truncates) {
    await writeRun(batch.writes.slice(from, t.at));
    from = t.at;
    const tombstoned = await tombstoneEntity(client, sourceId, t.entity, batch.order.generation, t.position, t.cursor);
    // A snapshot pass of the entity may hold chunks read before the TRUNCATE: it starts over.
    await markTruncated(client, sourceId, t.entity, batch.order.generation, t.position);
    result.written += tombstoned;
    result.writtenByEntity.set(t.entity, (result.writtenByEntity.get(t.entity) ?? 0) + tombstoned);
  }
  await writeRun(from ? batch.writes.slice(from) : batch.writes);

  if (batch.hardDeletes) {
    const truncated = truncates.length > 0;
    const deleted = batch.writes.filter((w) => w.deleted);
    await purgeTombstones(client, sourceId, truncated ? undefined : deleted);
  }
  await recordDeadLetters(client, sourceId, batch.runId, mappingVersion, batch.order, result.dead_lettered);
  const previous = batch.sequence?.previous;
  if (previous) {
    // Written; now in order: the batch before ends first (waited for in the store, see
    // CommitSequence), and this one commits only if that one did.
    await client.query("SELECT pg_advisory_xact_lock($1, $2)", [COMMIT_ORDER_LOCK, previous.lock]);
    await previous.done;
  }
  await complete(client, batch, result);
  return result;
}

async function complete(client: pg.PoolClient, batch: Batch, result: BatchResult) {
  const done = batch.completion;
  switch (done.kind) {
    case "checkpoint": {
      // A chunk commits only under the mapping it was mapped with (docs/lifecycle.md).
      const chunk = { ...done.chunk, written: result.written, dead: result.dead_lettered.length };
      const { mapping_version, moved } = await advanceCheckpoint(client, batch.sourceId, done.entity, batch.runId, done.pass, { chunk });
      if (mapping_version !== batch.mappingVersion) throw new MappingChangedError(batch.sourceId, batch.mappingVersion, mapping_version);
      result.checkpointed = moved;
      return;
    }
    case "cursor": {
      // The batch commits only under the mapping it was decoded with (a newer one may map a table
      // whose changes this batch skipped); otherwise it rolls back and the stream restarts from
      // the durable cursor under the new mapping (docs/cdc.md, "What the stream skips").
      const current = await commitCursor(client, batch.sourceId, done.token, done.cursor, done.committed_at, done.skipped_entities, done.known_schemas ?? null);
      if (current !== batch.mappingVersion) throw new MappingChangedError(batch.sourceId, batch.mappingVersion, current);
      return;
    }
    case "replay": {
      // A record that failed again was dead-lettered above (the same dead letter, reopened).
      if (result.dead_lettered.length) {
        await client.query("UPDATE dead_letters SET outcome = 'failed again' WHERE id = $1", [done.dead_letter_id]);
        return;
      }
      const write = batch.writes[0];
      const outcome =
        done.outcome ?? (result.written && write ? `written as ${write.context_type}/${write.context_id} (mapping v${batch.mappingVersion})` : "already up to date");
      await resolveDeadLetter(client, done.dead_letter_id, "replayed", outcome);
      return;
    }
  }
}
