import { z } from "zod";
import { setSchedulePaused, syncStatus, ZScheduleStatus, ZSyncStatus } from "../../schedules/service.ts";
import { createTRPCRouter, editorProcedure, rest, viewerProcedure } from "../trpc.ts";

export const schedulesRouter = createTRPCRouter({
  /** The schedule (next and last run) and each entity's incremental sync. */
  get: viewerProcedure
    .meta(rest("GET", "/sources/{id}/schedule", "schedules", "The source's schedule (options.schedule) with its next and last run, and each entity's incremental sync: what the next run reads"))
    .input(z.object({ id: z.uuid() }))
    .output(ZSyncStatus)
    .query(({ input }) => syncStatus(input.id)),
  /** Pause or resume the schedule (its options stay as configured). */
  action: editorProcedure
    .meta(rest("POST", "/sources/{id}/schedule", "schedules", 'Pause ({"action":"pause"}) or resume the schedule: no run starts by itself while it is paused'))
    .input(z.object({ id: z.uuid(), action: z.enum(["pause", "resume"]) }))
    .output(ZScheduleStatus)
    .mutation(({ input, ctx }) => setSchedulePaused(input.id, input.action === "pause", ctx.principal)),
});
