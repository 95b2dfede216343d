// A source's TRANSIENT retry backoff: its options.retry, else ECM_RETRY_INITIAL_MS / _MAX_MS,
// factor 2, ±20 % jitter (the spec's 1 s, ×2, at most 5 minutes). Streams and snapshots share it.
import { env } from "../env.ts";
import { getSource } from "../sources/service.ts";
import type { BackoffPolicy } from "./classify.ts";

export async function sourceRetryPolicy(sourceId: string): Promise<BackoffPolicy> {
  const own = await getSource(sourceId)
    .then((s) => s.config.options.retry)
    .catch(() => undefined);
  const base = defaultRetryPolicy();
  return { initialMs: own?.initial_ms ?? base.initialMs, factor: own?.factor ?? base.factor, maxMs: own?.max_ms ?? base.maxMs, jitter: base.jitter };
}

/** The operator's backoff (ECM_RETRY_INITIAL_MS, ECM_RETRY_MAX_MS), for work whose source is not known. */
export function defaultRetryPolicy(): BackoffPolicy {
  const e = env();
  return { initialMs: e.ECM_RETRY_INITIAL_MS, factor: 2, maxMs: e.ECM_RETRY_MAX_MS, jitter: 0.2 };
}
