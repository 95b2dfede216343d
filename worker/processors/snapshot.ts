// snapshot.run: one snapshot of a source through its mapping, reported as a run.
import type { JobPayload } from "../../server/jobs/contracts.ts";
import { logger } from "../../server/logger.ts";
import { getMappings } from "../../server/mapping/service.ts";
import { runSnapshot } from "../../server/pipeline/snapshot.ts";
import { sourceEntities } from "../../server/sources/connectivity.ts";
import { finishRun, setSourceState, startRun, updateRunProgress } from "../../server/store/runs.ts";

const log = logger("worker.snapshot");
const PROGRESS_EVERY_MS = 500;

export async function snapshotRun(payload: JobPayload<"snapshot.run">) {
  const { run_id: runId, source_id: sourceId, entities } = payload;
  // Row estimates of the mapped tables: the total a progress bar fills towards.
  let total: number | null = null;
  try {
    const mapped = new Set(entities ?? (await getMappings(sourceId)).mappings.map((m) => m.source.table));
    const { entities: all } = await sourceEntities(sourceId);
    total = all.filter((e) => mapped.has(e.name)).reduce((n, e) => n + e.row_estimate, 0) || null;
  } catch {
    /* the snapshot itself reports what is wrong with the source */
  }
  if (!(await startRun(runId, total))) return { skipped: "run already finished" };
  await setSourceState(sourceId, "snapshotting");
  const counters = { read: 0, written: 0, dead_lettered: 0, retried: 0, collisions: 0 };
  let lastReport = 0;
  try {
    const result = await runSnapshot(sourceId, {
      entities,
      runId,
      restart: true,
      onChunk: async ({ total_read }) => {
        counters.read = total_read;
        if (Date.now() - lastReport > PROGRESS_EVERY_MS) {
          lastReport = Date.now();
          await updateRunProgress(runId, total_read, counters);
        }
      },
    });
    Object.assign(counters, { read: result.read, written: result.written, dead_lettered: result.errors.length, collisions: result.collisions.length });
    // Row estimates only approximate the total; a finished run has read exactly what there was.
    await finishRun(runId, { status: "succeeded", counters, mappingVersion: result.mapping_version, progressDone: result.read, progressTotal: result.read });
    await setSourceState(sourceId, "idle");
    log.info("snapshot run succeeded", { run_id: runId, ...counters });
    return counters;
  } catch (e) {
    const category = (e as { category?: string }).category ?? "FATAL";
    const message = (e as Error).message ?? String(e);
    await finishRun(runId, { status: "failed", counters, error: message, errorCategory: category });
    await setSourceState(sourceId, "failed", message);
    log.error("snapshot run failed", { run_id: runId, category, error: e });
    return { failed: message };
  }
}

