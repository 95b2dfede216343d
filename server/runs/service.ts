// Runs as the API shows them, and starting a snapshot run (a job the worker executes).
import { recordAfter } from "../audit/trail.ts";
import { z } from "zod";
import type { Principal } from "../auth/roles.ts";
import { AppError } from "../errors/app-error.ts";
import { enqueue } from "../jobs/queues.ts";
import type { JobName, JobPayload } from "../jobs/contracts.ts";
import { getMappings } from "../mapping/service.ts";
import { getSource } from "../sources/service.ts";
import { syncsIncrementally } from "../connectors/registry.ts";
import { scheduleOf } from "../schedules/schedule-of.ts";
import * as store from "../store/runs.ts";

export const ZRun = z.object({
  id: z.uuid(),
  source_id: z.uuid(),
  kind: z.enum(["snapshot", "stream", "replay"]),
  status: z.enum(["queued", "running", "succeeded", "failed", "cancelled"]),
  mapping_version: z.number().nullable(),
  counters: z.object({ read: z.number(), written: z.number(), dead_lettered: z.number(), retried: z.number(), collisions: z.number() }),
  progress: z.object({ done: z.number(), total: z.number().nullable() }),
  error: z.object({ message: z.string(), category: z.string().nullable() }).nullable(),
  /** TRANSIENT retries: the latest attempt (0: none) and when the next starts (null: none waiting); `error` is what is retried. */
  retry: z.object({ attempt: z.number(), next_at: z.string().nullable() }),
  created_by: z.string().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
});
export type TRun = z.infer<typeof ZRun>;

export function toRunDto(r: store.RunRow): TRun {
  const c = r.counters as Partial<TRun["counters"]>;
  return {
    id: r.id,
    source_id: r.sourceId,
    kind: r.kind as TRun["kind"],
    status: r.status as TRun["status"],
    mapping_version: r.mappingVersion,
    counters: { read: c.read ?? 0, written: c.written ?? 0, dead_lettered: c.dead_lettered ?? 0, retried: c.retried ?? 0, collisions: c.collisions ?? 0 },
    progress: { done: Number(r.progressDone), total: r.progressTotal === null ? null : Number(r.progressTotal) },
    error: r.error ? { message: r.error, category: r.errorCategory } : null,
    retry: { attempt: r.retryAttempt, next_at: r.nextRetryAt?.toISOString() ?? null },
    created_by: r.createdBy,
    created_at: r.createdAt.toISOString(),
    started_at: r.startedAt?.toISOString() ?? null,
    finished_at: r.finishedAt?.toISOString() ?? null,
  };
}

export async function getRun(id: string) {
  const r = await store.findRun(id);
  if (!r) throw AppError.notFound(`run ${id}`);
  return toRunDto(r);
}

export async function listRuns(input: { source_id?: string; limit: number; cursor?: string }) {
  const rows = await store.listRuns(input.source_id, input.limit + 1, input.cursor);
  const page = rows.slice(0, input.limit);
  return { runs: page.map(toRunDto), next_cursor: rows.length > input.limit ? page[page.length - 1]!.id : null };
}

/**
 * A run asked for by a user. On a source that syncs incrementally or on a schedule, runs never
 * overlap: one asked for while another is queued or running is refused (RunGoingError, 409).
 */
export async function startSnapshot(sourceId: string, entities: string[] | undefined, by: Principal, options: RunOptions = {}) {
  const source = await getSource(sourceId); // 404 for an unknown source
  const exclusive = syncsIncrementally(source.config) || scheduleOf(source.config) !== null;
  const queued = await queueSnapshot(sourceId, entities, by.name, { ...options, exclusive });
  await recordAfter({ action: "snapshot.request", source_id: sourceId, target: { kind: "run", id: queued.run_id }, details: { entities: entities ?? "all mapped", full: options.full ?? false } });
  return queued;
}

/**
 * full: on a source with incremental sync, read every row instead of what moved. exclusive: not
 * while another of the source's runs is queued or running (RunGoingError).
 */
export type RunOptions = { full?: boolean; exclusive?: boolean };

/** Another of the source's runs is still queued or running, and this one may not overlap it. */
export class RunGoingError extends AppError {
  constructor(readonly runId: string) {
    super("CONFLICT", `run ${runId} of this source is still going: a source that syncs incrementally or on a schedule runs one run at a time. Wait for it to finish (GET /api/v1/runs/${runId}), then ask again`);
  }
}

/** Queues a snapshot run (all mapped entities, or the ones named); `createdBy` names who asked. */
export async function queueSnapshot(sourceId: string, entities: string[] | undefined, createdBy: string | null, options: RunOptions = {}) {
  const { mappings } = await getMappings(sourceId);
  if (!mappings.length) throw new AppError("BAD_REQUEST", "save a mapping before running a snapshot", { category: "CONFIGURATION" });
  const mapped = new Set(mappings.map((m) => m.source.table));
  const unknown = (entities ?? []).filter((e) => !mapped.has(e));
  if (unknown.length) throw AppError.invalid([{ path: "entities", message: `not mapped: ${unknown.join(", ")}` }]);
  const asked = { ...(entities ? { entities } : {}), ...(options.full ? { full: true } : {}) };
  const created = options.exclusive ? await store.createRunUnlessGoing({ sourceId, kind: "snapshot", request: asked, createdBy }) : { run: await store.createRun({ sourceId, kind: "snapshot", request: asked, createdBy }) };
  if ("going" in created) throw new RunGoingError(created.going);
  const { run } = created;
  await enqueueRun(run.id, "snapshot.run", { run_id: run.id, source_id: sourceId, ...asked }, `snapshot-${run.id}`);
  return { run_id: run.id };
}

/**
 * Queues the job of a run just created. When the queue refuses it, the run is closed as failed:
 * left queued, it would show as pending forever (and hold back hard-delete purges).
 */
export async function enqueueRun<N extends JobName>(runId: string, name: N, payload: JobPayload<N>, jobId: string) {
  try {
    await enqueue(name, payload, { jobId });
  } catch (e) {
    await store.finishRun(runId, { status: "failed", error: `could not queue the run: ${(e as Error).message}`, errorCategory: "TRANSIENT" });
    throw new AppError("SERVICE_UNAVAILABLE", "the job queue (Redis) did not accept the run; try again", { category: "TRANSIENT", cause: e });
  }
}
