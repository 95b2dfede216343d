// dead_letters.replay: replays dead letters through the mapping in force now, reported as a run.
import { replayDeadLetters } from "../../server/dead-letters/service.ts";
import type { JobPayload } from "../../server/jobs/contracts.ts";
import { logger } from "../../server/logger.ts";
import { findRun, finishRun, startRun } from "../../server/store/runs.ts";
import { purgeTombstonesOf } from "../../server/pipeline/tombstones.ts";

// Its lines carry the job's run and source ids from the job's log context (worker/runtime.ts).
const log = logger("worker.replay");

export async function replayRun(payload: JobPayload<"dead_letters.replay">) {
  if (!(await startRun(payload.run_id, payload.ids.length))) return { skipped: "run already finished" };
  try {
    const { mapping_version, ...counters } = await replayDeadLetters(payload.ids);
    await finishRun(payload.run_id, { status: "succeeded", counters, mappingVersion: mapping_version || undefined, progressDone: counters.read, progressTotal: counters.read });
    log.info(counters, "replay run succeeded");
    return counters;
  } catch (e) {
    const category = (e as { category?: string }).category ?? "FATAL";
    await finishRun(payload.run_id, { status: "failed", error: (e as Error).message, errorCategory: category });
    log.error({ error: e }, "replay run failed");
    return { failed: (e as Error).message };
  } finally {
    // Hard deletes: tombstones kept while this replay ran can go now.
    const run = await findRun(payload.run_id).catch(() => null);
    if (run) await purgeTombstonesOf(run.sourceId).catch((e) => log.warn({ error: e }, "could not purge tombstones"));
  }
}
