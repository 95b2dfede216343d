// One owner per stream (ARCHITECTURE.md): a lease row in PostgreSQL with a fencing token that grows
// on every acquisition. The owner renews it every control tick (reading the operator's switches in
// the same statement); every batch commit names the token, so a worker that lost its lease has its
// writes refused instead of interleaved (store/streams.ts commitCursor). The worker takes it, the
// stream loop renews it, and a retry's backoff keeps it: all through this one object.
import { classify } from "../../errors/classify.ts";
import { acquireLease, getStream, releaseLease, renewLease, type StreamControls } from "../../store/streams.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class StreamLease {
  constructor(
    readonly sourceId: string,
    readonly token: bigint,
    readonly seconds: number,
  ) {}

  /**
   * Waits until the lease is free (a dead owner's runs out) and takes it; null when the stream is
   * no longer wanted or `giveUp()` says so meanwhile.
   */
  static async acquire(sourceId: string, owner: string, seconds: number, giveUp: () => boolean, pollMs = 1000): Promise<StreamLease | null> {
    for (;;) {
      const row = await getStream(sourceId);
      if (!row?.enabled || giveUp()) return null;
      const token = await acquireLease(sourceId, owner, seconds);
      if (token !== null) return new StreamLease(sourceId, token, seconds);
      await sleep(pollMs);
    }
  }

  /** Extends the lease; the controls in force, or null when another owner took it over. */
  renew(): Promise<StreamControls | null> {
    return renewLease(this.sourceId, this.token, this.seconds);
  }

  /**
   * Sleeps `ms` while keeping the lease (a retry's backoff); false as soon as the stream is
   * stopped, the lease is lost or `giveUp()` says so. Renewals the store cannot answer for now
   * (TRANSIENT) are skipped; any other failure is thrown.
   */
  async hold(ms: number, giveUp: () => boolean): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await sleep(Math.min(1000, until - Date.now()));
      if (giveUp()) return false;
      // The store may be what is away (the failure being retried): keep waiting; the first renewal
      // that reaches it says whether the lease is still this worker's.
      const controls = await this.renew().catch((e: unknown) => {
        if (classify(e).category === "TRANSIENT") return undefined;
        throw e; // the store refusing (a changed password, a bug): the stream stops and says so
      });
      if (controls === undefined) continue;
      if (!controls?.enabled) return false;
    }
    return true;
  }

  release(): Promise<void> {
    return releaseLease(this.sourceId, this.token);
  }
}
