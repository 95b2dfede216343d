// A snapshot run fans out: snapshot.run prepares change capture once (publication, slot; a lost
// slot replaced on a full snapshot), then queues a BullMQ flow of one snapshot.entity job per
// mapped entity, which any worker may take (entities are read in parallel, across workers), under
// a snapshot.finish parent that closes the run once all of them are done. Each entity checkpoints
// its chunks, so a part that dies resumes where it stopped when its job is taken again.
import { FlowProducer, type Job } from "bullmq";
import { DEFAULT_JOB_OPTIONS, QUEUES, type JobPayload } from "../../server/jobs/contracts.ts";
import { producerRedis } from "../../server/jobs/redis.ts";
import { backoffDelay, classify } from "../../server/errors/classify.ts";
import { sourceRetryPolicy } from "../../server/errors/retry-policy.ts";
import { logger } from "../../server/logger.ts";
import { isExiting } from "../lifecycle.ts";
import { recordRetry } from "../../server/metrics/record.ts";
import { getMappings } from "../../server/mapping/service.ts";
import { prepareSnapshot, runSnapshot } from "../../server/pipeline/snapshot.ts";
import { purgeTombstonesOf } from "../../server/pipeline/tombstones.ts";
import { sourceEntities } from "../../server/sources/connectivity.ts";
import { addRunProgress, anotherSnapshotRuns, findRun, finishRun, setSourceState, startRun } from "../../server/store/runs.ts";

// Its lines carry the job's run and source ids from the job's log context (worker/runtime.ts).
const log = logger("worker.snapshot");
const PROGRESS_EVERY_MS = 500;
/** Attempts of one entity on TRANSIENT errors (with the default backoff, about 8 minutes in all). */
const SNAPSHOT_ATTEMPTS = 10;
type PartResult =
  | { entity: string; read: number; written: number; dead_lettered: number; collisions: number; retried: number; mapping_version: number; superseded_by?: string | null }
  | { entity: string; failed: string; category: string; retried: number };

async function fail(runId: string, sourceId: string, e: unknown) {
  const category = (e as { category?: string }).category ?? "FATAL";
  const message = (e as Error).message ?? String(e);
  await finishRun(runId, { status: "failed", error: message, errorCategory: category });
  await setSourceState(sourceId, "failed", message);
  log.error({ category, error: e }, "snapshot run failed");
  return { failed: message };
}

export async function snapshotRun(payload: JobPayload<"snapshot.run">) {
  const { run_id: runId, source_id: sourceId } = payload;
  let entities: string[];
  let total: number | null = null;
  try {
    entities = payload.entities ?? [...new Set((await getMappings(sourceId)).mappings.map((m) => m.source.table))];
    // Row estimates of the mapped tables: the total a progress bar fills towards.
    const { entities: all } = await sourceEntities(sourceId).catch(() => ({ entities: [] as { name: string; row_estimate: number }[] }));
    total = all.filter((e) => entities.includes(e.name)).reduce((n, e) => n + e.row_estimate, 0) || null;
  } catch (e) {
    return fail(runId, sourceId, e);
  }
  if (!(await startRun(runId, total))) return { skipped: "run already finished" };
  await setSourceState(sourceId, "snapshotting");
  try {
    await prepareSnapshot(sourceId, { full: !payload.entities });
  } catch (e) {
    return fail(runId, sourceId, e);
  }
  const flows = new FlowProducer({ connection: await producerRedis() });
  try {
    await flows.add({
      name: "snapshot.finish",
      queueName: QUEUES.snapshots,
      data: { run_id: runId, source_id: sourceId },
      opts: { ...DEFAULT_JOB_OPTIONS, jobId: `snapshot-finish-${runId}` },
      children: entities.map((entity, i) => ({
        name: "snapshot.entity",
        queueName: QUEUES.snapshots,
        data: { run_id: runId, source_id: sourceId, entity },
        opts: { ...DEFAULT_JOB_OPTIONS, jobId: `snapshot-${runId}-part-${i}` },
      })),
    });
  } finally {
    await flows.close();
  }
  return { parts: entities.length };
}

/**
 * One entity of a run. A TRANSIENT failure (the source or the store briefly away, a deadlock or
 * serialization failure) is retried with the source's backoff, resuming after the last committed
 * chunk; the run fails only on another category or after SNAPSHOT_ATTEMPTS attempts.
 */
export async function snapshotEntity(payload: JobPayload<"snapshot.entity">): Promise<PartResult> {
  const { run_id: runId, source_id: sourceId, entity } = payload;
  // Committed by earlier attempts (their chunks stay committed; a retry resumes after them).
  const before = { read: 0, written: 0, dead_lettered: 0 };
  let reported = 0;
  let lastReport = Date.now();
  let retried = 0;
  let part: Extract<PartResult, { read: number }> | null = null;
  // Attempts since the last one that got anywhere: a long snapshot meeting a deadlock now and then
  // goes on; one that cannot commit a single chunk stops after SNAPSHOT_ATTEMPTS.
  for (let attempt = 1; !part; ) {
    const committed = { read: 0, written: 0, dead_lettered: 0 };
    try {
      const result = await runSnapshot(sourceId, {
        entities: [entity],
        runId,
        onChunk: async ({ total_read, total_written, total_dead_lettered }) => {
          Object.assign(committed, { read: total_read, written: total_written, dead_lettered: total_dead_lettered });
          if (Date.now() - lastReport > PROGRESS_EVERY_MS) {
            lastReport = Date.now();
            const read = before.read + total_read;
            await addRunProgress(runId, read - reported, { read: read - reported });
            reported = read;
          }
        },
      });
      part = {
        entity,
        read: before.read + result.read,
        written: before.written + result.written,
        dead_lettered: before.dead_lettered + result.dead_lettered,
        collisions: result.collisions.length,
        retried,
        mapping_version: result.mapping_version,
        ...(result.entities[0] && "superseded_by" in result.entities[0] ? { superseded_by: result.entities[0].superseded_by ?? null } : {}),
      };
    } catch (e) {
      before.read += committed.read;
      before.written += committed.written;
      before.dead_lettered += committed.dead_lettered;
      if (committed.read > 0) attempt = 1;
      const c = classify(e);
      if (c.category === "TRANSIENT" && attempt < SNAPSHOT_ATTEMPTS && !isExiting()) {
        // Capped at 30 s: a worker shutting down waits for this job at most that long.
        const policy = await sourceRetryPolicy(sourceId);
        const delay = backoffDelay(attempt, { ...policy, maxMs: Math.min(policy.maxMs, 30_000) });
        log.warn({ entity, attempt, delay_ms: delay, code: c.code, origin: c.origin, error: (e as Error).message }, "snapshot of an entity failed; retrying from its last checkpoint");
        attempt++;
        retried++;
        recordRetry("snapshot", c.category, c.origin);
        await addRunProgress(runId, 0, { retried: 1 }).catch(() => {});
        await new Promise((r) => setTimeout(r, delay));
        continue;
      }
      // Reported to the parent, which fails the run with it; the other entities go on.
      log.error({ entity, attempt, error: e }, "snapshot of an entity failed");
      return { entity, failed: (e as Error).message ?? String(e), category: c.category, retried };
    }
  }
  // Outside the retried part: a failure here must not re-snapshot an entity that is done.
  await addRunProgress(runId, part.read - reported, { read: part.read - reported, written: part.written, dead_lettered: part.dead_lettered, collisions: part.collisions }).catch((error) =>
    log.warn({ entity, error }, "could not record the final progress of a snapshot part"),
  );
  return part;
}

export async function snapshotFinish(payload: JobPayload<"snapshot.finish">, job: Job) {
  const { run_id: runId, source_id: sourceId } = payload;
  const parts = Object.values(await job.getChildrenValues<PartResult>());
  const failed = parts.find((p): p is Extract<PartResult, { failed: string }> => "failed" in p);
  const done = parts.filter((p): p is Exclude<PartResult, { failed: string }> => !("failed" in p));
  const counters = {
    read: done.reduce((n, p) => n + p.read, 0),
    written: done.reduce((n, p) => n + p.written, 0),
    dead_lettered: done.reduce((n, p) => n + p.dead_lettered, 0),
    retried: parts.reduce((n, p) => n + (p.retried ?? 0), 0),
    collisions: done.reduce((n, p) => n + p.collisions, 0),
  };
  const run = await findRun(runId);
  if (failed) {
    await finishRun(runId, { status: "failed", counters, error: `${failed.entity}: ${failed.failed}`, errorCategory: failed.category });
    await setSourceState(sourceId, "failed", `${failed.entity}: ${failed.failed}`);
    return { failed: failed.failed };
  }
  // A newer run took some entities over: this one stopped writing them and says by whom.
  const superseded = done.filter((p) => "superseded_by" in p);
  if (superseded.length) {
    const message = `superseded: ${superseded.map((p) => `${p.entity} by ${p.superseded_by ? `run ${p.superseded_by}` : "a newer snapshot"}`).join(", ")}`;
    await finishRun(runId, { status: "cancelled", counters, error: message, errorCategory: null, progressDone: counters.read });
    if (!(await anotherSnapshotRuns(sourceId, runId))) await setSourceState(sourceId, "idle");
    log.info({ parts: parts.length, ...counters }, message);
    return { ...counters, superseded: superseded.map((p) => p.entity) };
  }
  // Row estimates only approximate the total; a finished run has read exactly what there was.
  await finishRun(runId, { status: "succeeded", counters, mappingVersion: done[0]?.mapping_version ?? run?.mappingVersion ?? undefined, progressDone: counters.read, progressTotal: counters.read });
  if (!(await anotherSnapshotRuns(sourceId, runId))) await setSourceState(sourceId, "idle");
  // Hard deletes: the tombstones that guarded rows during the snapshot can go now.
  const purged = await purgeTombstonesOf(sourceId);
  log.info({ parts: parts.length, ...counters, ...(purged ? { tombstones_purged: purged } : {}) }, "snapshot run succeeded");
  return counters;
}
