// A connector's one connection to its source, opened on first use. Callers at once share its
// opening: describing several entities on a fresh connector had opened one connection each and
// leaked all but the last. An opening that failed is forgotten, so the next use tries again.
export class SharedConnection<C extends { end(): Promise<unknown> }> {
  private opening?: Promise<C>;

  constructor(private readonly open: () => Promise<C>) {}

  /** The connection, opened now or by an earlier caller. */
  get(): Promise<C> {
    if (this.opening) return this.opening;
    const opening = this.open().catch((error: unknown) => {
      if (this.opening === opening) this.opening = undefined;
      throw error;
    });
    this.opening = opening;
    return opening;
  }

  /** Ends the connection if one was opened (one that failed to open has nothing to end); the next get() opens anew. */
  async close(): Promise<void> {
    const opening = this.opening;
    this.opening = undefined;
    await opening?.then((c) => c.end()).catch(() => {});
  }
}
