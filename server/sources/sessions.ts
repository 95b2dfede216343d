// Bounds on what one web process asks of one source (docs/security.md, "Limits"). Every
// interactive connector call (health, discovery, previews, the spec's read operations, cursor
// checks) opens a session on the source; without a bound, a viewer with a loop could take every
// connection the source has. Beyond ECM_SOURCE_SESSIONS calls in flight to one source, a call is
// refused at once with 429 and Retry-After (no queue to grow). The worker's pipeline (snapshots,
// streams, replays) is bounded by its job concurrency instead and does not pass through here.
import { env } from "../env.ts";
import { AppError } from "../errors/app-error.ts";

const inFlight = new Map<string, number>();

/** Runs `fn` as one of the source's (or a caller's draft) interactive sessions in this process, or refuses (429). */
export async function withSourceSession<T>(sourceId: string, fn: () => Promise<T>): Promise<T> {
  const limit = env().ECM_SOURCE_SESSIONS;
  const busy = inFlight.get(sourceId) ?? 0;
  if (busy >= limit) {
    throw new AppError("TOO_MANY_REQUESTS", `${limit} calls to this source are already in flight from this web process (ECM_SOURCE_SESSIONS); try again in a moment`, { retryAfter: 1 });
  }
  inFlight.set(sourceId, busy + 1);
  try {
    return await fn();
  } finally {
    const left = (inFlight.get(sourceId) ?? 1) - 1;
    if (left > 0) inFlight.set(sourceId, left);
    else inFlight.delete(sourceId);
  }
}

/** What one page of rows or changes may hold: rows, and bytes of JSON. */
export const PAGE_LIMITS = { rows: 1000, bytes: 4 * 1024 * 1024 } as const;
