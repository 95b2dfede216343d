// A snapshot run fans out: snapshot.run prepares change capture once (publication, slot; a lost
// slot replaced on a full snapshot), then queues a BullMQ flow of one snapshot.entity job per
// mapped entity, which any worker may take (entities are read in parallel, across workers), under
// a snapshot.finish parent that closes the run once all of them are done. Each entity checkpoints
// its chunks, so a part that dies resumes where it stopped when its job is taken again.
import { FlowProducer, type Job } from "bullmq";
import { DEFAULT_JOB_OPTIONS, QUEUES, type JobPayload } from "../../server/jobs/contracts.ts";
import { producerRedis } from "../../server/jobs/redis.ts";
import { classify } from "../../server/errors/classify.ts";
import { logger } from "../../server/logger.ts";
import { isExiting } from "../lifecycle.ts";
import type { Attempt } from "../retry.ts";
import { getMappings } from "../../server/mapping/service.ts";
import { prepareSnapshot, runSnapshot, SnapshotStopped } from "../../server/pipeline/snapshot.ts";
import { purgeTombstonesOf } from "../../server/pipeline/tombstones.ts";
import { sourceEntities } from "../../server/sources/connectivity.ts";
import { getSource } from "../../server/sources/service.ts";
import { syncsIncrementally } from "../../server/connectors/registry.ts";
import { addRunProgress, closeSnapshotRun, findRun, refreshSnapshotProgress, setSourceState, startRun } from "../../server/store/runs.ts";

// Its lines carry the job's run and source ids from the job's log context (worker/runtime.ts).
const log = logger("worker.snapshot");
const PROGRESS_EVERY_MS = 500;
// Rows, contexts and dead letters are counted in the store with each chunk (refreshSnapshotProgress),
// collisions on the run: a part reports only what it alone knows.
type PartResult =
  | { entity: string; mapping_version: number; superseded_by?: string | null }
  | { entity: string; failed: string; category: string };

async function fail(runId: string, sourceId: string, e: unknown) {
  const { category } = classify(e);
  const message = (e as Error).message ?? String(e);
  await closeSnapshotRun(runId, sourceId, { status: "failed", error: message, errorCategory: category });
  log.error({ category, error: e }, "snapshot run failed");
  return { failed: message };
}

export async function snapshotRun(payload: JobPayload<"snapshot.run">) {
  const { run_id: runId, source_id: sourceId } = payload;
  // A TRANSIENT failure anywhere here is thrown: the runtime retries the job (worker/retry.ts). Others fail the run.
  const failUnlessTransient = (e: unknown) => {
    if (classify(e).category === "TRANSIENT") throw e;
    return fail(runId, sourceId, e);
  };
  let entities: string[];
  let total: number | null = null;
  try {
    entities = payload.entities ?? [...new Set((await getMappings(sourceId)).mappings.map((m) => m.source.table))];
    // Row estimates of the mapped tables: the total a progress bar fills towards (none for
    // incremental runs, which read what moved, not the tables).
    if (!syncsIncrementally((await getSource(sourceId)).config) || payload.full) {
      const { entities: all } = await sourceEntities(sourceId).catch(() => ({ entities: [] as { name: string; row_estimate: number }[] }));
      total = all.filter((e) => entities.includes(e.name)).reduce((n, e) => n + e.row_estimate, 0) || null;
    }
  } catch (e) {
    return failUnlessTransient(e);
  }
  if (!(await startRun(runId, total))) return { skipped: "run already finished" };
  await setSourceState(sourceId, "snapshotting");
  try {
    await prepareSnapshot(sourceId, { full: !payload.entities });
  } catch (e) {
    return failUnlessTransient(e);
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
        data: { run_id: runId, source_id: sourceId, entity, ...(payload.full ? { full: true } : {}) },
        // A part that failed outright (its workers died MAX_STALLS times) fails the finish job, and
        // the supervisor closes the run, instead of leaving it waiting for that part forever.
        opts: { ...DEFAULT_JOB_OPTIONS, jobId: `snapshot-${runId}-part-${i}`, failParentOnFailure: true },
      })),
    });
  } finally {
    await flows.close();
  }
  return { parts: entities.length };
}

/**
 * One entity of a run. A TRANSIENT failure (the source or the store briefly away, a deadlock or
 * serialization failure) is thrown: the runtime retries the part with the source's backoff
 * (worker/retry.ts), resuming after the last committed chunk; an attempt that committed a chunk
 * starts the backoff over. Any other category fails the part, which fails the run. A stopping
 * worker's part stops after the chunks in flight commit (SnapshotStopped) and is handed over.
 */
export async function snapshotEntity(payload: JobPayload<"snapshot.entity">, attempt: Attempt): Promise<PartResult> {
  const { run_id: runId, source_id: sourceId, entity } = payload;
  let lastReport = Date.now();
  try {
    const result = await runSnapshot(sourceId, {
      entities: [entity],
      runId,
      full: payload.full,
      shouldStop: isExiting,
      onChunk: async ({ checkpoint_moved }) => {
        // Progress is a checkpoint that moved (a reconcile's chunks read no rows, yet move it; a
        // chunk committed ahead of one the store refuses does not).
        attempt.progressed ||= checkpoint_moved;
        if (Date.now() - lastReport > PROGRESS_EVERY_MS) {
          lastReport = Date.now();
          // Only a display: a failure here must not fail a chunk that committed.
          await refreshSnapshotProgress(runId).catch((error) => log.warn({ entity, error }, "could not record the progress of a snapshot part"));
        }
      },
    });
    if (result.collisions.length) await addRunProgress(runId, 0, { collisions: result.collisions.length });
    const stats = result.entities[0];
    return { entity, mapping_version: result.mapping_version, ...(stats && "superseded_by" in stats ? { superseded_by: stats.superseded_by ?? null } : {}) };
  } catch (e) {
    const { category } = classify(e);
    if (e instanceof SnapshotStopped || category === "TRANSIENT") throw e;
    // Reported to the parent, which fails the run with it; the other entities go on.
    log.error({ entity, error: e }, "snapshot of an entity failed");
    return { entity, failed: (e as Error).message ?? String(e), category };
  } finally {
    await refreshSnapshotProgress(runId).catch((error) => log.warn({ entity, error }, "could not record the progress of a snapshot part"));
  }
}

export async function snapshotFinish(payload: JobPayload<"snapshot.finish">, job: Job) {
  const { run_id: runId, source_id: sourceId } = payload;
  const parts = Object.values(await job.getChildrenValues<PartResult>());
  const failed = parts.find((p): p is Extract<PartResult, { failed: string }> => "failed" in p);
  const done = parts.filter((p): p is Exclude<PartResult, { failed: string }> => !("failed" in p));
  // Counted with the chunks (read, written, dead letters) and by the parts' attempts (retried, collisions).
  await refreshSnapshotProgress(runId);
  const run = await findRun(runId);
  const c = (run?.counters ?? {}) as Record<string, number>;
  const counters = { read: c.read ?? 0, written: c.written ?? 0, dead_lettered: c.dead_lettered ?? 0, retried: c.retried ?? 0, collisions: c.collisions ?? 0 };
  if (failed) {
    await closeSnapshotRun(runId, sourceId, { status: "failed", counters, error: `${failed.entity}: ${failed.failed}`, errorCategory: failed.category });
    return { failed: failed.failed };
  }
  // A newer run took some entities over: this one stopped writing them and says by whom.
  const superseded = done.filter((p) => "superseded_by" in p);
  if (superseded.length) {
    const message = `superseded: ${superseded.map((p) => `${p.entity} by ${p.superseded_by ? `run ${p.superseded_by}` : "a newer snapshot"}`).join(", ")}`;
    await closeSnapshotRun(runId, sourceId, { status: "cancelled", counters, error: message, errorCategory: null, progressDone: counters.read });
    log.info({ parts: parts.length, ...counters }, message);
    return { ...counters, superseded: superseded.map((p) => p.entity) };
  }
  // Row estimates only approximate the total; a finished run has read exactly what there was.
  await closeSnapshotRun(runId, sourceId, { status: "succeeded", counters, mappingVersion: done[0]?.mapping_version ?? run?.mappingVersion ?? undefined, progressDone: counters.read, progressTotal: counters.read });
  // Hard deletes: the tombstones that guarded rows during the snapshot can go now.
  const purged = await purgeTombstonesOf(sourceId);
  log.info({ parts: parts.length, ...counters, ...(purged ? { tombstones_purged: purged } : {}) }, "snapshot run succeeded");
  return counters;
}
