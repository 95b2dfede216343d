// The registry of job processors: one entry per job name in server/jobs/contracts.ts.
import type { Job } from "bullmq";
import type { JobName, JobPayload } from "../server/jobs/contracts.ts";
import { replayRun } from "./processors/replay.ts";
import { snapshotEntity, snapshotFinish, snapshotRun } from "./processors/snapshot.ts";
import { streamRun } from "./processors/stream.ts";
import { scheduleTick } from "../server/schedules/service.ts";
import type { Attempt } from "./retry.ts";

/** `attempt`: what the processor tells the runtime about this attempt (worker/retry.ts). */
type Processor<N extends JobName> = (payload: JobPayload<N>, job: Job, attempt: Attempt) => Promise<unknown>;

export const processors: { [N in JobName]: Processor<N> } = {
  "snapshot.run": (payload) => snapshotRun(payload),
  "snapshot.entity": (payload, _job, attempt) => snapshotEntity(payload, attempt),
  "snapshot.finish": (payload, job) => snapshotFinish(payload, job),
  "dead_letters.replay": (payload, _job, attempt) => replayRun(payload, attempt),
  "stream.run": (payload) => streamRun(payload),
  "schedule.tick": (payload) => scheduleTick(payload.source_id),
};
