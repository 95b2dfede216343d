// The registry of job processors: one entry per job name in server/jobs/contracts.ts.
import type { Job } from "bullmq";
import type { JobName, JobPayload } from "../server/jobs/contracts.ts";
import { replayRun } from "./processors/replay.ts";
import { snapshotEntity, snapshotFinish, snapshotRun } from "./processors/snapshot.ts";
import { streamRun } from "./processors/stream.ts";

/** `token`: the job's lock, which moving it to the delayed set needs (worker/retry.ts). */
type Processor<N extends JobName> = (payload: JobPayload<N>, job: Job, token?: string) => Promise<unknown>;

export const processors: { [N in JobName]: Processor<N> } = {
  "snapshot.run": (payload) => snapshotRun(payload),
  "snapshot.entity": (payload, job, token) => snapshotEntity(payload, job, token),
  "snapshot.finish": (payload, job) => snapshotFinish(payload, job),
  "dead_letters.replay": (payload, job, token) => replayRun(payload, job, token),
  "stream.run": (payload) => streamRun(payload),
};
