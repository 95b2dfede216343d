// The registry of job processors: one entry per job name in server/jobs/contracts.ts.
import type { Job } from "bullmq";
import type { JobName, JobPayload } from "../server/jobs/contracts.ts";
import { replayRun } from "./processors/replay.ts";
import { snapshotEntity, snapshotFinish, snapshotRun } from "./processors/snapshot.ts";
import { streamRun } from "./processors/stream.ts";

type Processor<N extends JobName> = (payload: JobPayload<N>, job: Job) => Promise<unknown>;

export const processors: { [N in JobName]: Processor<N> } = {
  "snapshot.run": (payload) => snapshotRun(payload),
  "snapshot.entity": (payload) => snapshotEntity(payload),
  "snapshot.finish": (payload, job) => snapshotFinish(payload, job),
  "dead_letters.replay": (payload) => replayRun(payload),
  "stream.run": (payload) => streamRun(payload),
};
