// Job contracts shared by producers (web) and the worker: queue names, job names
// (`domain.action`), a zod schema per payload (parsed on enqueue and again in the worker), and
// default job options. Payloads carry ids only, never secrets: the worker reads the rest from
// PostgreSQL and resolves secret references itself.
import { z } from "zod";

export const QUEUES = {
  /** Snapshot runs: bounded work, any worker may take one. */
  snapshots: "ecm-snapshots",
  /** Dead-letter replays. */
  replays: "ecm-replays",
  /** Change streams: long-running, one job per enabled stream (job id stream-<source id>). */
  streams: "ecm-streams",
} as const;

export const JOBS = {
  "snapshot.run": {
    queue: QUEUES.snapshots,
    payload: z.object({ run_id: z.uuid(), source_id: z.uuid(), entities: z.array(z.string()).optional(), full: z.boolean().optional() }).strict(),
  },
  /** One mapped entity of a snapshot run (a run fans out into one of these per entity). */
  "snapshot.entity": {
    queue: QUEUES.snapshots,
    payload: z.object({ run_id: z.uuid(), source_id: z.uuid(), entity: z.string().min(1), full: z.boolean().optional() }).strict(),
  },
  /** A schedule's tick (a BullMQ job scheduler per scheduled source): queues a run unless one is still going. */
  "schedule.tick": {
    queue: QUEUES.snapshots,
    payload: z.object({ source_id: z.uuid() }).strict(),
  },
  /** Runs once every entity of a snapshot run is done (the parent of their flow): closes the run. */
  "snapshot.finish": {
    queue: QUEUES.snapshots,
    payload: z.object({ run_id: z.uuid(), source_id: z.uuid() }).strict(),
  },
  "dead_letters.replay": {
    queue: QUEUES.replays,
    payload: z.object({ run_id: z.uuid(), ids: z.array(z.uuid()).min(1).max(10_000) }).strict(),
  },
  "stream.run": {
    queue: QUEUES.streams,
    payload: z.object({ source_id: z.uuid() }).strict(),
  },
} as const;

/** The one job id of a source's stream: adding it twice is a no-op, so a stream never runs twice. */
export const streamJobId = (sourceId: string) => `stream-${sourceId}`;

export type JobName = keyof typeof JOBS;
export type JobPayload<N extends JobName> = z.infer<(typeof JOBS)[N]["payload"]>;

export const DEFAULT_JOB_OPTIONS = Object.freeze({
  attempts: 1,
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
});

export function parsePayload<N extends JobName>(name: N, data: unknown): JobPayload<N> {
  return JOBS[name].payload.parse(data) as JobPayload<N>;
}
