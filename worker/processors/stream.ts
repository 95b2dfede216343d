// stream.run: a source's change stream, owned by this worker for as long as it holds the lease.
// Errors are handled by category (server/errors/classify.ts):
//   TRANSIENT → "retrying (attempt n, next in t)", exponential backoff, then resume from the cursor;
//   CONFIGURATION / FATAL → the stream stops (disabled), the run fails, an alert is raised;
//   a lost lease → this worker stops writing at once (another owner has it).
import os from "node:os";
import type { JobPayload } from "../../server/jobs/contracts.ts";
import { env } from "../../server/env.ts";
import { alert, clearAlerts } from "../../server/alerts/service.ts";
import { backoffDelay, classify } from "../../server/errors/classify.ts";
import { sourceRetryPolicy } from "../../server/errors/retry-policy.ts";
import { addLogContext, logger } from "../../server/logger.ts";
import { CaptureBrokenError } from "../../server/pipeline/capture.ts";
import { runStream, type StreamCounters } from "../../server/pipeline/stream.ts";
import { queueSnapshot } from "../../server/runs/service.ts";
import { withConnector } from "../../server/sources/connectivity.ts";
import { findRun, finishRun, markRunRetrying, runRetryDue, setSourceState, startRun, updateRunProgress } from "../../server/store/runs.ts";
import { getStream, LeaseLostError, ownerUpdate } from "../../server/store/streams.ts";
import { StreamLease } from "../../server/pipeline/stream/lease.ts";
import { recordRetry } from "../../server/metrics/record.ts";
import { isExiting } from "../lifecycle.ts";

// Its lines carry the job's run and source ids from the job's log context (worker/runtime.ts).
const log = logger("worker.stream");
const owner = () => `${os.hostname()}:${process.pid}`;

export async function streamRun(payload: JobPayload<"stream.run">): Promise<unknown> {
  const sourceId = payload.source_id;
  const e = env();
  const lease = e.ECM_STREAM_LEASE_SECONDS;

  // Wait for the lease: a previous owner that died holds it until it expires.
  const held = await StreamLease.acquire(sourceId, owner(), lease, isExiting);
  if (!held) return { skipped: "stream not enabled" };
  const token = held.token;
  const row = (await getStream(sourceId))!;
  const runId = row.run_id;
  if (runId) {
    addLogContext({ run_id: runId });
    await startRun(runId, null);
  }
  // A run taken over from a worker that died goes on counting where that one left off.
  const counters: StreamCounters & { retried: number } = { read: 0, written: 0, dead_lettered: 0, skipped: 0, transactions: 0, collisions: 0, retried: 0 };
  if (runId) Object.assign(counters, (await findRun(runId))?.counters ?? {});
  const progress = setInterval(() => {
    if (runId) void updateRunProgress(runId, counters.read, counters).catch(() => {});
  }, 1000);
  let attempt = 0;
  // How the run ends; null leaves it running (the stream continues under another owner).
  let outcome: { status: "failed" | "cancelled"; error?: string; category?: string } | null = { status: "cancelled" };

  try {
    for (;;) {
      try {
        const end = await withConnector(sourceId, (connector) =>
          runStream({
            sourceId,
            connector,
            token,
            leaseSeconds: lease,
            runId,
            counters,
            shouldExit: isExiting,
            onStreaming: async () => {
              await setSourceState(sourceId, "streaming");
              await clearAlerts(sourceId);
              if (runId) await runRetryDue(runId);
            },
            // Not when the stream opens: a failure on its first batch (the store out of connections,
            // a proxy cutting the connection after the handshake) must back off further each time.
            onCommitted: () => {
              attempt = 0;
            },
            onResumed: (entities) => queueSnapshot(sourceId, entities, "stream (entity resumed)").then(() => {}),
          }),
        );
        if (end === "restart") continue; // mapping changed: reload it, resume from the cursor
        if (end === "paused") {
          const s = await getStream(sourceId);
          await setSourceState(sourceId, "paused", s?.error ?? null);
          await alert({ sourceId, runId, category: "CONFIGURATION", message: s?.error ?? "stream paused", hint: "approve the schema change on the source page (or POST …/stream {action: approve_schema})" });
          outcome = { status: "cancelled", error: s?.error ?? "paused", category: "CONFIGURATION" };
          return { paused: true };
        }
        if (isExiting() && (await getStream(sourceId))?.enabled) {
          // Worker shutting down, stream still wanted: hand it over (the supervisor re-queues it).
          outcome = null;
          return { handed_over: true };
        }
        await ownerUpdate(sourceId, token, { status: "stopped" });
        await setSourceState(sourceId, "idle");
        outcome = { status: "cancelled" };
        return { stopped: true, ...counters };
      } catch (error) {
        if (error instanceof LeaseLostError) {
          log.warn("lease lost: another worker owns this stream now");
          outcome = null;
          return { lease_lost: true };
        }
        const c = classify(error);
        const message = (error as Error).message ?? String(error);
        if (c.category === "TRANSIENT") {
          attempt++;
          counters.retried++;
          recordRetry("stream", c.category, c.origin);
          const delay = backoffDelay(attempt, await sourceRetryPolicy(sourceId));
          log.warn({ attempt, delay_ms: delay, code: c.code, origin: c.origin, error: message }, "stream failed, retrying");
          const nextAt = new Date(Date.now() + delay);
          // Shown where the store can take it: the store may be what is away, and the backoff goes on regardless.
          const shown = await ownerUpdate(sourceId, token, { status: "retrying", retry_attempt: attempt, next_retry_at: nextAt, error: message, error_category: "TRANSIENT" })
            .then(async (owned) => {
              if (!owned) return false;
              await setSourceState(sourceId, "retrying", message);
              // Counted in `retried` by this loop's counters, which it writes to the run itself.
              if (runId) await markRunRetrying(runId, attempt, nextAt, message, { countRetry: false });
              return true;
            })
            .catch((e) => (log.warn({ error: e }, "could not show the retry (the store is away?)"), true));
          if (!shown) {
            log.warn("lease lost while retrying: another worker owns this stream now");
            outcome = null;
            return { lease_lost: true };
          }
          if (!(await held.hold(delay, isExiting))) {
            // Stopped by the operator: the run ends. Otherwise (this worker is stopping, the lease was
            // lost, the store cannot say) the stream goes on under the next owner.
            const now = await getStream(sourceId).catch(() => undefined);
            outcome = now === undefined || now?.enabled ? null : { status: "cancelled" };
            if (outcome) {
              await ownerUpdate(sourceId, token, { status: "stopped" });
              await setSourceState(sourceId, "idle");
            }
            return { stopped_while_retrying: true };
          }
          continue;
        }
        if (error instanceof CaptureBrokenError) {
          // Already failed loudly (source state, alert) by the capture check. The operator's wish
          // stays: the stream starts again by itself from the new capture a full snapshot makes.
          log.error({ error: message }, "stream stopped: its change capture cannot deliver what the store needs");
          outcome = { status: "failed", error: message, category: "FATAL" };
          return { failed: message };
        }
        // CONFIGURATION and FATAL: stop, say what to fix, alert.
        log.error({ category: c.category, code: c.code, origin: c.origin, error: message }, "stream stopped");
        await ownerUpdate(sourceId, token, { status: "failed", enabled: false, error: message, error_category: c.category });
        await setSourceState(sourceId, "failed", message);
        await alert({ sourceId, runId, category: c.category === "DATA" ? "FATAL" : c.category, message, hint: c.category === "FATAL" ? "see the message" : "fix the configuration, then start the stream again" });
        outcome = { status: "failed", error: message, category: c.category };
        return { failed: message };
      }
    }
  } finally {
    clearInterval(progress);
    if (!outcome && runId) await updateRunProgress(runId, counters.read, counters).catch(() => {}); // the next owner counts on from here
    if (outcome && runId) {
      await finishRun(runId, { status: outcome.status, counters, error: outcome.error ?? null, errorCategory: outcome.category ?? null, progressDone: counters.read }).catch(() => {});
    }
    await held.release().catch(() => {});
  }
}
