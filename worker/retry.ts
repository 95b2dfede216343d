// One retry policy for every job kind (the spec's error categories; docs/errors.md):
//   TRANSIENT      the job waits in BullMQ's delayed set for the source's backoff (1 s, ×2, at most
//                  5 min, ±20 %), then resumes from its checkpoint; it never gives up by itself while
//                  the error stays TRANSIENT. It waits in Redis, not in a worker slot: a stopping
//                  worker drains at once, and whichever worker is up takes the next attempt.
//   CONFIGURATION  the job stops: its run fails with the error and the source says what to fix;
//   FATAL          the same;
//   DATA           never reaches a job: one record's failure is a dead letter and the work goes on.
// Streams hold their lease while they back off (worker/processors/stream.ts) under the same backoff.
import { DelayedError, type Job } from "bullmq";
import { backoffDelay, type Classified } from "../server/errors/classify.ts";
import { defaultRetryPolicy, sourceRetryPolicy } from "../server/errors/retry-policy.ts";
import { logger } from "../server/logger.ts";
import type { PipelineKind } from "../server/metrics/metrics.ts";
import { recordRetry } from "../server/metrics/record.ts";
import { markRunRetrying } from "../server/store/runs.ts";

const log = logger("worker.retry");

/**
 * The attempt a job is (1 for its first). Kept in the job's progress, not its payload: the payload
 * is the producer's contract (ids only, parsed strictly by every worker version), the attempt the
 * worker's own bookkeeping.
 */
export const attemptOf = (job: Job) => {
  const attempt = (job.progress as { attempt?: unknown } | null)?.attempt;
  return typeof attempt === "number" && Number.isInteger(attempt) && attempt >= 1 ? Math.min(attempt, 64) : 1;
};

/**
 * What a processor tells the runtime about the attempt it is running: whether it got somewhere
 * (committed a chunk, replayed a letter), so a TRANSIENT failure after that backs off from the first
 * step again. Processors only throw; the runtime alone schedules retries and hand-overs.
 */
export type Attempt = { progressed: boolean };

export type RetryCase = {
  kind: PipelineKind;
  /** Whose backoff (its options.retry); unknown (the store cannot say): the operator's default. */
  sourceId: string | null;
  runId: string | null;
  /** The failure, as classify() read it (TRANSIENT). */
  error: unknown;
  classified: Classified;
  /** This attempt got somewhere (committed a chunk): the backoff starts over from its first step. */
  progressed?: boolean;
};

/**
 * Ends this attempt after a TRANSIENT failure and schedules the next one (throws BullMQ's
 * DelayedError, which tells the worker the job was moved, not failed). The run shows the attempt,
 * the next try and the error meanwhile.
 */
export async function retryLater(job: Job, token: string | undefined, c: RetryCase): Promise<never> {
  const attempt = c.progressed ? 1 : attemptOf(job);
  const delay = backoffDelay(attempt, c.sourceId ? await sourceRetryPolicy(c.sourceId) : defaultRetryPolicy());
  const nextAt = new Date(Date.now() + delay);
  const message = (c.error as Error)?.message ?? String(c.error);
  recordRetry(c.kind, c.classified.category, c.classified.origin);
  log.warn({ attempt, delay_ms: delay, code: c.classified.code, origin: c.classified.origin, error: message }, `${job.name} failed; retrying`);
  // Moved first (it fails when this worker lost the job's lock: nothing is then recorded); the store
  // may be what is away, so the run shows the retry where it can.
  await job.moveToDelayed(nextAt.getTime(), token);
  await job.updateProgress({ attempt: attempt + 1 }).catch((error) => log.warn({ error }, "could not record the next attempt's number"));
  if (c.runId) await markRunRetrying(c.runId, attempt, nextAt, message).catch((error) => log.warn({ error }, "could not record the retry on the run"));
  throw new DelayedError();
}

/** Hands the job to whichever worker is up next (this one is stopping): no backoff, no attempt counted. */
export async function handOver(job: Job, token: string | undefined): Promise<never> {
  log.info(`${job.name} handed over: this worker is stopping`);
  await job.moveToDelayed(Date.now(), token);
  throw new DelayedError();
}
