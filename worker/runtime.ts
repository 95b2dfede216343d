// The worker runtime: one BullMQ Worker per queue, processors looked up in one registry, and a
// single idempotent stop path (SIGTERM/SIGINT) that lets the current jobs finish, then closes.
import { Worker, type Job } from "bullmq";
import { env } from "../server/env.ts";
import { createRedis } from "../server/jobs/redis.ts";
import { JOBS, QUEUES, parsePayload, type JobName } from "../server/jobs/contracts.ts";
import { HEARTBEAT_MS, recordHeartbeat, removeWorker, workerIdentity } from "../server/jobs/workers.ts";
import { logger } from "../server/logger.ts";
import { processors } from "./processors.ts";

const log = logger("worker");

export async function startWorker(): Promise<{ close: () => Promise<void> }> {
  const e = env();
  const connection = createRedis("worker");
  const me = workerIdentity();

  async function process(job: Job) {
    if (!(job.name in JOBS)) {
      // A job from a newer or older release: fail it visibly rather than guess at its payload.
      throw new Error(`unknown job ${job.name}; is this worker older than the web server?`);
    }
    const name = job.name as JobName;
    const processor = processors[name] as (payload: unknown, job: Job) => Promise<unknown>;
    return processor(parsePayload(name, job.data), job);
  }

  const workers = Object.values(QUEUES).map((queue) => {
    const w = new Worker(queue, process, { connection, concurrency: e.ECM_WORKER_CONCURRENCY, autorun: true });
    w.on("error", (error) => log.error("queue error", { queue, error }));
    w.on("failed", (job, error) => log.warn("job failed", { queue, job: job?.name, id: job?.id, error }));
    return w;
  });

  await recordHeartbeat(connection, me);
  const heartbeat = setInterval(() => {
    recordHeartbeat(connection, me).catch((error) => log.warn("heartbeat failed", { error }));
  }, HEARTBEAT_MS);
  log.info("worker started", { id: me.id, queues: Object.values(QUEUES), concurrency: e.ECM_WORKER_CONCURRENCY });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      log.info("worker stopping: finishing current jobs");
      clearInterval(heartbeat);
      await Promise.all(workers.map((w) => w.close()));
      await removeWorker(connection, me.id).catch(() => {});
      connection.disconnect();
      log.info("worker stopped");
    })());
  return { close };
}
