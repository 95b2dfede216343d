// The supervisor: makes the queues match the desired state in PostgreSQL. Every enabled stream
// has exactly one job (its fixed job id makes adding it idempotent); a Redis that lost its data,
// a stream handed over by a worker that shut down, or a job removed by hand is put back within
// one tick. Every worker runs it; they cannot conflict, for the same reason.
import { queue, queueStream } from "../server/jobs/queues.ts";
import { QUEUES, streamJobId } from "../server/jobs/contracts.ts";
import { logger } from "../server/logger.ts";
import { enabledStreams } from "../server/store/streams.ts";

const log = logger("worker.supervisor");

export async function reconcileStreams(): Promise<string[]> {
  const q = await queue(QUEUES.streams);
  const added: string[] = [];
  for (const { source_id } of await enabledStreams()) {
    const job = await q.getJob(streamJobId(source_id));
    const state = job ? await job.getState() : "missing";
    if (state === "missing" || state === "unknown" || state === "completed" || state === "failed") {
      if (job) await job.remove().catch(() => {});
      await queueStream(source_id);
      added.push(source_id);
    }
  }
  if (added.length) log.info("stream jobs queued to match the database", { sources: added });
  return added;
}

export function startSupervisor(): { stop: () => void } {
  let running = false;
  const tickMs = Number(process.env.ECM_SUPERVISOR_MS ?? 5000); // tests shorten it
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    reconcileStreams()
      .catch((error) => log.warn("reconcile failed", { error }))
      .finally(() => (running = false));
  }, tickMs);
  return { stop: () => clearInterval(timer) };
}
