// A source's TRANSIENT retry backoff: its options.retry, else ECM_RETRY_INITIAL_MS / _MAX_MS,
// factor 2, ±20 % jitter (the spec's 1 s, ×2, at most 5 minutes). Streams and snapshots share it.
import { env } from "../env.ts";
import { getSource } from "../sources/service.ts";
import type { BackoffPolicy } from "./classify.ts";

export async function sourceRetryPolicy(sourceId: string): Promise<BackoffPolicy> {
  const e = env();
  const own = await getSource(sourceId)
    .then((s) => s.config.options.retry)
    .catch(() => undefined);
  return { initialMs: own?.initial_ms ?? e.ECM_RETRY_INITIAL_MS, factor: own?.factor ?? 2, maxMs: own?.max_ms ?? e.ECM_RETRY_MAX_MS, jitter: 0.2 };
}
