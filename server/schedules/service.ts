// Schedules: a source without a change stream (options.change_tracking "incremental" or
// "snapshot") may name options.schedule, an interval or a cron expression. Each scheduled source
// has one BullMQ job scheduler (id schedule-<source id>) producing schedule.tick jobs; a tick queues
// a run unless one of the source's runs is still queued or running, so runs never overlap. The
// schedule lives in PostgreSQL (the source's config and its paused flag): syncSchedule makes
// Redis match it after every change, and the supervisor does for every source on each tick (a
// Redis that lost its data gets its schedulers back).
import { recordIn } from "../audit/trail.ts";
import { z } from "zod";
import type { Principal } from "../auth/roles.ts";
import { AppError } from "../errors/app-error.ts";
import { within } from "../errors/origin.ts";
import { DEFAULT_JOB_OPTIONS, QUEUES } from "../jobs/contracts.ts";
import { queue } from "../jobs/queues.ts";
import { logger } from "../logger.ts";
import { queueSnapshot, RunGoingError } from "../runs/service.ts";
import { scheduleOf, type ScheduleOption } from "./schedule-of.ts";
import { findScheduleState, inTransaction, scheduleStates, setSchedulePaused as storePaused, type ScheduleState } from "../store/sources.ts";
import { latestRunBy } from "../store/runs.ts";
import { incrementalStates } from "../store/checkpoints.ts";

const log = logger("schedules");

export const scheduleJobId = (sourceId: string) => `schedule-${sourceId}`;
const SCHEDULER_PREFIX = "schedule-";
/** Who a scheduled run was created by (runs.created_by). */
export const SCHEDULE_ACTOR = "schedule";


/** The schedule that should be running now: configured and not paused. */
const runningSchedule = (source: ScheduleState) => (source.schedulePaused ? null : scheduleOf(source.config));

const repeatOf = (s: ScheduleOption) => ("every_seconds" in s ? { every: s.every_seconds * 1000 } : { pattern: s.cron, tz: s.timezone ?? "UTC" });

/** Makes the source's job scheduler match its config and paused flag (created, changed or removed). */
export async function syncSchedule(source: ScheduleState): Promise<void> {
  const q = await queue(QUEUES.snapshots);
  const wanted = runningSchedule(source);
  await within("queue", async () => {
    if (!wanted) {
      if (await q.removeJobScheduler(scheduleJobId(source.id))) log.info({ source_id: source.id }, "schedule removed");
      return;
    }
    const repeat = repeatOf(wanted);
    const current = await q.getJobScheduler(scheduleJobId(source.id));
    if (current && current.every === ("every" in repeat ? repeat.every : undefined) && current.pattern === ("pattern" in repeat ? repeat.pattern : undefined) && (current.tz ?? undefined) === ("tz" in repeat ? repeat.tz : undefined)) return;
    await q.upsertJobScheduler(scheduleJobId(source.id), repeat, { name: "schedule.tick", data: { source_id: source.id }, opts: { ...DEFAULT_JOB_OPTIONS, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } });
    log.info({ source_id: source.id, ...repeat }, "schedule set");
  });
}

/**
 * Every scheduler as PostgreSQL says (the supervisor, each tick): the scheduled sources' set or
 * changed, the others' (paused, schedule removed, source deleted) removed. One source's failure is
 * logged and the others still done.
 */
export async function reconcileSchedules(): Promise<void> {
  const wanted = (await scheduleStates()).filter(runningSchedule);
  for (const s of wanted) await syncSchedule(s).catch((error) => log.warn({ source_id: s.id, error }, "could not set a source's schedule"));
  const keep = new Set(wanted.map((s) => scheduleJobId(s.id)));
  const q = await queue(QUEUES.snapshots);
  for (const scheduler of await q.getJobSchedulers(0, -1)) {
    if (scheduler.key.startsWith(SCHEDULER_PREFIX) && !keep.has(scheduler.key)) await q.removeJobScheduler(scheduler.key);
  }
}

/**
 * A tick: queues a run of the source unless one is still queued or running (runs never overlap:
 * the run is created only under the source's run lock, RunGoingError otherwise).
 */
export async function scheduleTick(sourceId: string): Promise<{ run_id: string } | { skipped: string }> {
  const row = await findScheduleState(sourceId);
  if (!row || !runningSchedule(row)) return { skipped: "no schedule (removed or paused)" };
  try {
    return await queueSnapshot(sourceId, undefined, SCHEDULE_ACTOR, { exclusive: true });
  } catch (e) {
    // Nothing mapped yet (or a mapping to fix): nothing to run until there is.
    if (e instanceof AppError && e.category === "CONFIGURATION") return { skipped: e.message };
    if (e instanceof RunGoingError) {
      log.info({ source_id: sourceId, run_id: e.runId }, "scheduled run skipped: the previous run is still going");
      return { skipped: "the previous run is still going" };
    }
    throw e;
  }
}

export const ZScheduleStatus = z
  .object({
    every_seconds: z.number().int().nullable(),
    cron: z.string().nullable(),
    timezone: z.string().nullable(),
    paused: z.boolean(),
    next_run_at: z.string().nullable().describe("When the next run starts (null: paused, or not yet planned)"),
    last_run: z.object({ id: z.uuid(), status: z.string(), created_at: z.string(), finished_at: z.string().nullable() }).nullable().describe("The latest run the schedule started"),
  })
  .nullable()
  .describe("options.schedule as it runs (null: the source has none)");

export async function scheduleStatus(source: ScheduleState): Promise<z.infer<typeof ZScheduleStatus>> {
  const s = scheduleOf(source.config);
  if (!s) return null;
  const scheduler = source.schedulePaused ? undefined : await within("queue", async () => (await queue(QUEUES.snapshots)).getJobScheduler(scheduleJobId(source.id))).catch(() => undefined);
  const last = await latestRunBy(source.id, SCHEDULE_ACTOR);
  return {
    every_seconds: "every_seconds" in s ? s.every_seconds : null,
    cron: "cron" in s ? s.cron : null,
    timezone: "cron" in s ? (s.timezone ?? "UTC") : null,
    paused: source.schedulePaused,
    next_run_at: scheduler?.next ? new Date(scheduler.next).toISOString() : null,
    last_run: last ? { id: last.id, status: last.status, created_at: last.created_at.toISOString(), finished_at: last.finished_at?.toISOString() ?? null } : null,
  };
}

/** Pauses or resumes a source's schedule (the schedule itself stays in its config). */
export async function setSchedulePaused(sourceId: string, paused: boolean, by: Principal) {
  const row = await findScheduleState(sourceId);
  if (!row) throw AppError.notFound(`source ${sourceId}`);
  if (!scheduleOf(row.config)) throw AppError.invalid([{ path: "config.options.schedule", message: "this source has no schedule: set options.schedule (change_tracking incremental or snapshot)" }], "Nothing to pause or resume");
  const updated = await inTransaction(async (tx) => {
    const row = await storePaused(sourceId, paused, tx);
    await recordIn(tx, { action: paused ? "schedule.pause" : "schedule.resume", source_id: sourceId, target: { kind: "source", id: sourceId } });
    return row;
  });
  await syncSchedule(updated);
  log.info({ source_id: sourceId, paused, by: by.name }, paused ? "schedule paused" : "schedule resumed");
  return scheduleStatus(updated);
}

export const ZSyncStatus = z.object({
  schedule: ZScheduleStatus,
  entities: z
    .array(
      z.object({
        entity: z.string(),
        cursor: z.array(z.string()).nullable().describe("The mapping's cursor columns the last pass read by"),
        next_from: z.string().nullable().describe("The next run reads rows whose cursor is above this, less the look-back (null: it reads every row)"),
        passes_since_full: z.number().int().nullable().describe("Incremental passes since the last full one (a full pass re-reads every row)"),
        passes_since_reconcile: z.number().int().nullable().describe("Incremental passes since deletes were last checked (by a full or reconcile pass)"),
        pass: z
          .object({ mode: z.enum(["full", "incremental", "reconcile"]), lower: z.string().nullable(), upper: z.string(), done: z.boolean() })
          .nullable()
          .describe("The latest pass: what it reads ((lower, upper] of the first cursor column; reconcile: the contexts' keys, checked at the source) and whether it is done"),
      }),
    )
    .describe("Incremental sync per mapped entity (empty: the source does not sync incrementally, or no run yet)"),
});

/** A source's schedule and each entity's incremental sync. */
export async function syncStatus(sourceId: string): Promise<z.infer<typeof ZSyncStatus>> {
  const source = await findScheduleState(sourceId);
  if (!source) throw AppError.notFound(`source ${sourceId}`);
  const entities = (await incrementalStates(sourceId)).map((e) => ({
    entity: e.entity,
    cursor: e.watermark?.cursor ?? e.pass_range?.cursor ?? null,
    next_from: e.watermark?.upper ?? null,
    passes_since_full: e.watermark?.since_full ?? null,
    passes_since_reconcile: e.watermark?.since_reconcile ?? null,
    pass: e.pass_range ? { mode: e.pass_range.mode, lower: e.pass_range.lower, upper: e.pass_range.upper, done: e.done } : null,
  }));
  return { schedule: await scheduleStatus(source), entities };
}
