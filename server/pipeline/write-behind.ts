// Writes behind the reading: while batches commit, the next one is read and mapped, so the
// store's work overlaps the pipeline's. At most `depth` writes are in flight (bounded memory and
// store sessions); a submit waits for the oldest one when the window is full.
//
// Depth 1 (streams): each write starts after the previous one ended (a stream's write returns once
// the batch before it committed and its own is under way: its order is OrderedCommits', in
// pipeline/stream/ordered-commits.ts). Depth > 1 (snapshot chunks): writes run at once on their
// own store sessions and may commit out of order; the caller's completion must cope (a snapshot
// checkpoint moves only over contiguous committed chunks, store/checkpoints.ts).
export class WriteBehind {
  private readonly inFlight: Promise<void>[] = [];
  private failure: { error: unknown } | null = null;

  private readonly onError: (error: unknown) => void;
  private readonly depth: number;

  /** `onError` hears a failed write at once (the next submit() or settle() also throws it); `depth`: writes in flight at most (1). */
  constructor(options: { onError?: (error: unknown) => void; depth?: number } = {}) {
    this.onError = options.onError ?? (() => {});
    this.depth = options.depth ?? 1;
  }

  /** Waits for room in the window (throwing any failed write's error), then starts `write` without waiting. */
  async submit(write: () => Promise<void>): Promise<void> {
    this.throwIfFailed();
    while (this.inFlight.length >= this.depth) {
      await this.inFlight.shift()!.catch(() => {});
      this.throwIfFailed();
    }
    const next = write().catch((error: unknown) => {
      this.failure ??= { error };
      this.onError(error);
    });
    this.inFlight.push(next);
  }

  /** Waits for every write in flight; throws the first failure. */
  async settle(): Promise<void> {
    await this.quiesce();
    this.throwIfFailed();
  }

  /** Waits for every write in flight, whatever its outcome (cleanup after a failure elsewhere). */
  async quiesce(): Promise<void> {
    while (this.inFlight.length) await this.inFlight.shift()!.catch(() => {});
  }

  private throwIfFailed() {
    if (this.failure) throw this.failure.error;
  }
}
