// A stream's batches commit in stream order, but the next one writes while the one before commits:
// two batches in flight, never more (docs/cdc.md, "Batches in flight").
//   - A batch starts once the one before holds its store session and order lock (so it never
//     waits, holding a session, for one that has none yet), or, when the two touch a common
//     context or source record (or either holds a TRUNCATE), once the one before has committed:
//     two transactions in flight never wait on each other's rows. The caller passes no footprint
//     (null: overlaps everything) while other writers of the source run (pipeline/stream.ts).
//   - It commits after the one before, and only if that one committed (store/unit-of-work.ts,
//     CommitSequence): the durable cursor moves in order, and a crash or a failed batch leaves the
//     cursor where the last whole batch put it.
import crypto from "node:crypto";
import type { CommitSequence } from "../../store/unit-of-work.ts";
import type { TakenBatch } from "./batcher.ts";

/** What a batch touches: its contexts and the source records behind its writes and dead letters; null for the whole of an entity (a TRUNCATE). */
export type Footprint = Set<string> | null;

export function footprintOf(batch: Pick<TakenBatch, "writes" | "truncates" | "deadLetters">): Footprint {
  if (batch.truncates.length) return null;
  const touched = new Set<string>();
  for (const w of batch.writes) {
    touched.add(`c\u0000${w.context_type}\u0000${w.context_id}`);
    touched.add(`r\u0000${w.entity}\u0000${JSON.stringify(w.key)}`);
  }
  for (const d of batch.deadLetters) touched.add(`r\u0000${d.entity}\u0000${JSON.stringify(d.key)}`);
  return touched;
}

export function overlaps(a: Footprint, b: Footprint): boolean {
  if (a === null || b === null) return true;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const k of small) if (large.has(k)) return true;
  return false;
}

type InFlight = { footprint: Footprint; lock: number; locked: Promise<void>; done: Promise<void> };

export class OrderedCommits {
  private last: InFlight | null = null;

  /**
   * Starts `commit` in its place in the order and returns once the batch before it is done (so at
   * most two are in flight); throws that batch's failure. `commit` must pass the sequence to
   * commitBatch, and its promise settles when the batch is committed and acknowledged.
   */
  async submit(footprint: Footprint, commit: (sequence: CommitSequence) => Promise<void>): Promise<void> {
    const previous = this.last;
    if (previous) await (overlaps(footprint, previous.footprint) ? previous.done : previous.locked);
    let onLocked!: () => void;
    const locked = new Promise<void>((resolve) => (onLocked = resolve));
    const lock = crypto.randomInt(-(2 ** 31), 2 ** 31);
    const done = commit({ lock, onLocked, previous: previous && { lock: previous.lock, done: previous.done } });
    // A commit that fails before taking its lock must not hold the next one back.
    done.then(onLocked, onLocked);
    this.last = { footprint, lock, locked, done };
    if (previous) await previous.done;
  }

  /** Waits until every batch submitted so far is done; throws the last one's failure. */
  async drain(): Promise<void> {
    await this.last?.done;
  }
}
