// Writes behind the reading: while one batch commits, the next is read and mapped, so the
// store's work overlaps the pipeline's. At most one write is in flight (bounded memory), and each
// starts only after the previous one ended, so commits (and the checkpoints or cursors in them)
// keep their order. Used by snapshots (chunks) and streams (batches).
export class WriteBehind {
  private last: Promise<void> | null = null;

  /** `onError` hears a failed write at once (the next submit() or settle() also throws it). */
  constructor(private readonly onError: (error: unknown) => void = () => {}) {}

  /** Waits for the write in flight (throwing its error), then starts `write` without waiting. */
  async submit(write: () => Promise<void>): Promise<void> {
    if (this.last) await this.last;
    const next = write();
    next.catch(this.onError);
    this.last = next;
  }

  /** Waits for the write in flight; throws its error. */
  async settle(): Promise<void> {
    await this.last;
  }

  /** Waits for the write in flight, whatever its outcome (cleanup after a failure elsewhere). */
  async quiesce(): Promise<void> {
    await this.last?.catch(() => {});
  }
}
