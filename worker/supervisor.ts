// The supervisor: makes the queues match the desired state in PostgreSQL. Every enabled stream
// has exactly one job (its fixed job id makes adding it idempotent); a Redis that lost its data,
// a stream handed over by a worker that shut down, or a job removed by hand is put back within
// one tick; so are schedules (server/schedules/service.ts). Every worker runs it; they cannot
// conflict, for the same reason. Runs whose jobs are
// gone are closed as failed, so nothing shows as pending forever. Alerts due for the webhook are
// delivered from the outbox (alerts/outbox.ts).
import { queue, queueStream } from "../server/jobs/queues.ts";
import { QUEUES, streamJobId } from "../server/jobs/contracts.ts";
import { logger } from "../server/logger.ts";
import { enabledStreams } from "../server/store/streams.ts";
import { closeLostRun, unfinishedRuns } from "../server/store/runs.ts";
import { deliverDue } from "../server/alerts/outbox.ts";
import { reconcileSchedules } from "../server/schedules/service.ts";
import { purgeExpiredAudit } from "../server/audit/service.ts";

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
  if (added.length) log.info({ sources: added }, "stream jobs queued to match the database");
  return added;
}

// Job states in which a run is still being worked on (or will be).
const LIVE_STATES = new Set(["waiting", "active", "delayed", "waiting-children", "prioritized", "paused"]);

/**
 * Closes snapshot and replay runs whose jobs are gone: a Redis that lost its data, a job removed
 * by hand, a worker that died on a job with no retries left. Left "queued" or "running" they
 * would show as pending forever and hold back hard-delete purges. A run is alive while any of its
 * jobs (a snapshot's coordinator or its finish job, a replay's job) is waiting, active, delayed
 * or waiting for children; runs younger than `graceMs` are left alone (their job may be on its way).
 */
export async function reconcileRuns(graceMs = 60_000): Promise<string[]> {
  const closed: string[] = [];
  for (const run of await unfinishedRuns(["snapshot", "replay"], new Date(Date.now() - graceMs))) {
    const q = await queue(run.kind === "snapshot" ? QUEUES.snapshots : QUEUES.replays);
    const jobIds = run.kind === "snapshot" ? [`snapshot-${run.id}`, `snapshot-finish-${run.id}`] : [`replay-${run.id}`];
    let alive = false;
    for (const id of jobIds) {
      const job = await q.getJob(id);
      if (job && LIVE_STATES.has(await job.getState())) alive = true;
    }
    if (alive) continue;
    const message = "its job was lost (queue data gone, or its worker died with no retries left); start it again";
    if (!(await closeLostRun(run, message))) continue; // it finished meanwhile
    closed.push(run.id);
  }
  if (closed.length) log.warn({ runs: closed }, "runs without a job closed as failed");
  return closed;
}

/** The audit trail's retention is enforced a minute after start, then hourly, on its own timer (a long purge never delays the tick). */
const AUDIT_PURGE_EVERY_MS = 3_600_000;

export function startSupervisor(): { stop: () => void } {
  let running = false;
  const purgeAudit = () => void purgeExpiredAudit().catch((error) => log.warn({ error }, "the audit trail's retention could not be enforced; next hour again"));
  const firstPurge = setTimeout(purgeAudit, 60_000);
  const purgeTimer = setInterval(purgeAudit, AUDIT_PURGE_EVERY_MS);
  const tickMs = Number(process.env.ECM_SUPERVISOR_MS ?? 5000); // tests shorten it
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    Promise.all([reconcileStreams(), reconcileRuns(), deliverDue(), reconcileSchedules()])
      .catch((error) => log.warn({ error }, "reconcile failed"))
      .finally(() => (running = false));
  }, tickMs);
  return {
    stop: () => {
      clearInterval(timer);
      clearTimeout(firstPurge);
      clearInterval(purgeTimer);
    },
  };
}
