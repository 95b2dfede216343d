// The stream's batching rules, kept apart from I/O so they can be tested as rules:
//   - a batch is written when it holds batch_size writes (even inside a transaction), when the
//     stream has caught up with what arrived (a commit with nothing more received), or when
//     MAX_WAIT_MS passed since the last batch was taken (a steady trickle never leaves the backlog
//     empty);
//   - the cursor a batch commits is the end of the last whole transaction in it: a transaction
//     larger than a batch is written in parts, and the cursor moves past it only with its last part
//     (a crash in between replays the whole transaction, idempotently);
//   - a heartbeat (a commit without a time) moves the cursor only forward, and only between
//     transactions (the connector sends none inside one); it never asks for a write by itself
//     (the stream writes a heartbeat's cursor once per control tick).
import type { CursorCodec } from "../../connectors/types.ts";
import type { NewDeadLetter } from "../../store/dead-letters.ts";
import type { RecordWrite, Truncate } from "../../store/unit-of-work.ts";

export const MAX_WAIT_MS = 25;

export type CommitTarget = { cursor: string; committed_at: Date | null };
export type TakenBatch = { writes: RecordWrite[]; truncates: Truncate[]; deadLetters: NewDeadLetter[]; target: CommitTarget | null; allInserts: boolean };

export class Batcher {
  private writes: RecordWrite[] = [];
  private truncates: Truncate[] = [];
  private deadLetters: NewDeadLetter[] = [];
  private allInserts = true;
  private startedAt: number;
  /** When the batch's first write arrived (null while it has none). */
  private firstAt: number | null = null;
  private lastCommit: (CommitTarget & { order: bigint }) | null = null;
  private durable: bigint;

  constructor(
    private readonly batchSize: number,
    private readonly codec: CursorCodec,
    durableCursor: string | null,
    private readonly now: () => number = Date.now,
    private readonly maxWaitMs = MAX_WAIT_MS,
  ) {
    this.durable = durableCursor ? codec.order(durableCursor) : -1n;
    this.startedAt = now();
  }

  /** Adds a change's writes and dead letters; true when the batch is full and must be written now. */
  add(mapped: { writes: RecordWrite[]; deadLetters: NewDeadLetter[] }, insert: boolean): boolean {
    if (this.firstAt === null && mapped.writes.length) this.firstAt = this.now();
    for (const w of mapped.writes) this.writes.push(w);
    for (const d of mapped.deadLetters) this.deadLetters.push(d);
    if (!insert && mapped.writes.length) this.allInserts = false;
    return this.writes.length >= this.batchSize;
  }

  /** A TRUNCATE, applied where it happened among the writes. */
  truncate(entity: string, position: bigint, cursor: string) {
    this.truncates.push({ at: this.writes.length, entity, position, cursor });
    this.allInserts = false;
  }

  /** A transaction ended (or a heartbeat): true when the batch must be written now. */
  commit(cursor: string, committedAt: Date | null, more: boolean): boolean {
    const order = this.codec.order(cursor);
    if (!this.lastCommit || order > this.lastCommit.order) this.lastCommit = { cursor, committed_at: committedAt, order };
    if (committedAt === null && !this.writes.length && !this.deadLetters.length) return false;
    return this.writes.length >= this.batchSize || !more || this.now() - this.startedAt >= this.maxWaitMs;
  }

  /** How long (ms) since the batch's first write arrived (0 without one): reading and mapping it. */
  age(): number {
    return this.firstAt === null ? 0 : this.now() - this.firstAt;
  }

  /** Nothing waits to be written and the cursor is where the last commit ended. */
  get empty(): boolean {
    return !this.writes.length && !this.deadLetters.length && !this.pendingCursor;
  }

  private get pendingCursor(): boolean {
    return !!this.lastCommit && this.lastCommit.order > this.durable;
  }

  /** What to write now (null: nothing); the cursor target only when it moves forward. */
  take(): TakenBatch | null {
    this.startedAt = this.now();
    const target = this.pendingCursor ? { cursor: this.lastCommit!.cursor, committed_at: this.lastCommit!.committed_at } : null;
    if (!this.writes.length && !this.deadLetters.length && !target) return null;
    // Batches commit in order (stream/ordered-commits.ts): a later batch starts from here.
    if (target) this.durable = this.lastCommit!.order;
    this.firstAt = null;
    const taken = { writes: this.writes, truncates: this.truncates, deadLetters: this.deadLetters, target, allInserts: this.allInserts && this.writes.length > 0 };
    this.writes = [];
    this.truncates = [];
    this.deadLetters = [];
    this.allInserts = true;
    return taken;
  }
}
