// Enqueuing jobs: the payload is validated against its contract before it goes to Redis.
import { Queue } from "bullmq";
import { DEFAULT_JOB_OPTIONS, JOBS, parsePayload, streamJobId, type JobName, type JobPayload } from "./contracts.ts";
import { producerRedis } from "./redis.ts";
import { within } from "../errors/origin.ts";

const globalForQueues = globalThis as unknown as { ecmQueues?: Map<string, Queue> };

export async function queue(name: string): Promise<Queue> {
  globalForQueues.ecmQueues ??= new Map();
  let q = globalForQueues.ecmQueues.get(name);
  if (!q) {
    q = new Queue(name, { connection: await producerRedis() });
    q.on("error", () => {}); // surfaced by the add() that fails
    globalForQueues.ecmQueues.set(name, q);
  }
  return q;
}

export async function enqueue<N extends JobName>(name: N, payload: JobPayload<N>, opts: { jobId?: string; removeWhenDone?: boolean } = {}) {
  const data = parsePayload(name, payload);
  return within("queue", async () =>
    (await queue(JOBS[name].queue)).add(name, data, {
      ...DEFAULT_JOB_OPTIONS,
      ...(opts.jobId ? { jobId: opts.jobId } : {}),
      // A job id that must be reusable (one per stream) may not linger as completed or failed.
      ...(opts.removeWhenDone ? { removeOnComplete: true, removeOnFail: true } : {}),
    }),
  );
}

/** Queues a source's stream job; a no-op while it is queued or running (its id is fixed). */
export function queueStream(sourceId: string) {
  return enqueue("stream.run", { source_id: sourceId }, { jobId: streamJobId(sourceId), removeWhenDone: true });
}
