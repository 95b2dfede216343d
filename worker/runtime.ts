// The worker runtime: one BullMQ Worker per queue, processors looked up in one registry, one retry
// policy for what they throw (worker/retry.ts), and a single idempotent stop path (SIGTERM/SIGINT):
// current jobs finish or hand over (streams and snapshot parts at their next commit), then it closes.
import { Worker, type Job } from "bullmq";
import { env } from "../server/env.ts";
import { createRedis } from "../server/jobs/redis.ts";
import { JOBS, QUEUES, parsePayload, type JobName } from "../server/jobs/contracts.ts";
import { HEARTBEAT_MS, recordHeartbeat, removeWorker, workerIdentity } from "../server/jobs/workers.ts";
import { logger, withLogContext } from "../server/logger.ts";
import { processors } from "./processors.ts";
import { jobSeconds, metricsEnabled } from "../server/metrics/metrics.ts";
import { publishMetrics } from "../server/metrics/publish.ts";
import { markExiting } from "./lifecycle.ts";
import { startSupervisor } from "./supervisor.ts";
import { classify } from "../server/errors/classify.ts";
import { SnapshotStopped } from "../server/pipeline/snapshot.ts";
import { findRun, runRetryDue } from "../server/store/runs.ts";
import { handOver, retryLater, type Attempt } from "./retry.ts";

const log = logger("worker");
/** Times a snapshot part or a replay is taken again after its worker died before it fails. */
const MAX_STALLS = 10;

export async function startWorker(): Promise<{ close: () => Promise<void> }> {
  const e = env();
  const connection = createRedis("worker");
  const me = workerIdentity();
  markExiting(false); // a runtime started again in the same process (tests) is not shutting down

  async function process(job: Job, token?: string) {
    if (!(job.name in JOBS)) {
      // A job from a newer or older release: fail it visibly rather than guess at its payload.
      throw new Error(`unknown job ${job.name}; is this worker older than the web server?`);
    }
    const name = job.name as JobName;
    const processor = processors[name] as (payload: unknown, job: Job, attempt: Attempt) => Promise<unknown>;
    const started = performance.now();
    let outcome = "failed";
    try {
      const payload = parsePayload(name, job.data) as { run_id?: string; source_id?: string };
      const runId = payload.run_id ?? null;
      // Every line logged while the job runs, however deep, names the job, its run and its source.
      const ids = { job_id: job.id, job: name, run_id: runId ?? undefined, source_id: payload.source_id };
      return await withLogContext(ids, async () => {
        const attempt: Attempt = { progressed: false };
        // Streams retry under their lease (processors/stream.ts); bounded work retries here, as a job.
        const bounded = name !== "stream.run";
        // An attempt starts: the backoff it waited out is over (the run no longer shows it).
        if (bounded && runId) await runRetryDue(runId);
        try {
          const result = await processor(payload, job, attempt);
          outcome = "completed";
          return result;
        } catch (error) {
          if (!bounded) throw error;
          // A snapshot part stopped at a checkpoint because this worker is stopping: the next worker takes it.
          if (error instanceof SnapshotStopped) {
            outcome = "handed_over";
            return await handOver(job, token);
          }
          // Something that may pass, wherever it was thrown: the one retry policy (worker/retry.ts), never a lost job.
          const classified = classify(error);
          if (classified.category !== "TRANSIENT") throw error;
          const sourceId = payload.source_id ?? (runId ? ((await findRun(runId).catch(() => null))?.sourceId ?? null) : null);
          outcome = "retrying";
          return await retryLater(job, token, { kind: name.startsWith("snapshot") ? "snapshot" : "replay", sourceId, runId, error, classified, progressed: attempt.progressed });
        }
      });
    } finally {
      if (metricsEnabled()) jobSeconds.observe({ queue: job.queueName, job: name, outcome }, (performance.now() - started) / 1000);
    }
  }

  // The job lock only detects dead workers; ownership is the lease's (fenced in PostgreSQL). A
  // short lock was seen to lapse under load and hand a live stream's job out a second time.
  const streamLockMs = Math.max(30_000, e.ECM_STREAM_LEASE_SECONDS * 1000);
  const workers = Object.values(QUEUES).map((queue) => {
    // Streams are long-running and mostly waiting on the network: many per worker. Their job lock
    // follows the stream lease, and a job whose worker died is stalled and taken by another
    // worker as often as that happens (maxStalledCount), never failed for it.
    // Snapshot parts and replays resume from what they committed: one whose worker died is taken
    // again, up to MAX_STALLS times (a job that kills every worker that takes it, an out-of-memory
    // row, must not go round the workers forever); then it fails, its run with it (supervisor.ts).
    const options =
      queue === QUEUES.streams
        ? { concurrency: 100, lockDuration: streamLockMs, stalledInterval: streamLockMs, maxStalledCount: 1_000_000 }
        : { concurrency: e.ECM_WORKER_CONCURRENCY, maxStalledCount: MAX_STALLS };
    // Named after this worker (host:pid, as its heartbeat): a job records which worker took it (processedBy).
    const w = new Worker(queue, process, { connection, name: me.id, ...options, autorun: true });
    w.on("error", (error) => {
      // A job whose lock lapsed (this worker stalled: SIGSTOP, a paused VM, a long GC) was taken by
      // another worker; finishing it here is refused. Expected after a stall, and harmless: the
      // stream's lease and the runs' checkpoints decide who owns the work, not the job lock.
      if (/Lock mismatch|Missing lock/.test(error.message)) log.warn({ queue, error: error.message }, "a job this worker held was taken over by another worker after its lock lapsed");
      else log.error({ queue, error }, "queue error");
    });
    w.on("failed", (job, error) => log.warn({ queue, job: job?.name, job_id: job?.id, error }, "job failed"));
    return w;
  });

  // The heartbeat carries this worker's metrics to the scrape target (server/metrics/publish.ts).
  const beat = async () => {
    await recordHeartbeat(connection, me);
    await publishMetrics(connection, me.id);
  };
  await beat();
  const heartbeat = setInterval(() => {
    beat().catch((error) => log.warn({ error }, "heartbeat failed"));
  }, HEARTBEAT_MS);
  const supervisor = startSupervisor();
  log.info({ id: me.id, queues: Object.values(QUEUES), concurrency: e.ECM_WORKER_CONCURRENCY }, "worker started");

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      log.info("worker stopping: finishing current jobs");
      markExiting();
      supervisor.stop();
      clearInterval(heartbeat);
      await Promise.all(workers.map((w) => w.close()));
      await publishMetrics(connection, me.id).catch(() => {}); // the last counts, until they expire
      await removeWorker(connection, me.id).catch(() => {});
      connection.disconnect();
      log.info("worker stopped");
    })());
  return { close };
}
