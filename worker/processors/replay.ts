// dead_letters.replay: replays dead letters through the mapping in force now, reported as a run.
// A TRANSIENT failure is retried from the letters still open (worker/retry.ts); others fail the run.
import { replayDeadLetters, type ReplayCounters } from "../../server/dead-letters/service.ts";
import { classify } from "../../server/errors/classify.ts";
import type { JobPayload } from "../../server/jobs/contracts.ts";
import { logger } from "../../server/logger.ts";
import { addRunProgress, findRun, finishRun, startRun } from "../../server/store/runs.ts";
import { purgeTombstonesOf } from "../../server/pipeline/tombstones.ts";
import type { Attempt } from "../retry.ts";

// Its lines carry the job's run and source ids from the job's log context (worker/runtime.ts).
const log = logger("worker.replay");

export async function replayRun(payload: JobPayload<"dead_letters.replay">, attempt: Attempt) {
  const runId = payload.run_id;
  if (!(await startRun(runId, payload.ids.length))) return { skipped: "run already finished" };
  const { sourceId } = (await findRun(runId))!;
  // This attempt's letters, added to what earlier attempts counted on the run.
  const counters: ReplayCounters = { read: 0, written: 0, dead_lettered: 0, retried: 0, collisions: 0 };
  let mappingVersion = 0;
  try {
    mappingVersion = (await replayDeadLetters(payload.ids, counters)).mapping_version;
  } catch (e) {
    await addRunProgress(runId, counters.read, counters).catch((error) => log.warn({ error }, "could not record the replay's progress"));
    const { category } = classify(e);
    attempt.progressed = counters.read > 0;
    if (category === "TRANSIENT") throw e; // retried by the runtime, from the letters still open
    await finishRun(runId, { status: "failed", error: (e as Error).message, errorCategory: category });
    log.error({ error: e }, "replay run failed");
    await purgeTombstones(sourceId);
    return { failed: (e as Error).message };
  }
  await addRunProgress(runId, counters.read, counters);
  const total = ((await findRun(runId))?.counters ?? counters) as ReplayCounters;
  await finishRun(runId, { status: "succeeded", mappingVersion: mappingVersion || undefined, progressDone: total.read, progressTotal: total.read });
  log.info(total, "replay run succeeded");
  await purgeTombstones(sourceId);
  return total;
}

/** Hard deletes: tombstones kept while this replay ran can go now. */
async function purgeTombstones(sourceId: string) {
  await purgeTombstonesOf(sourceId).catch((e) => log.warn({ error: e }, "could not purge tombstones"));
}
