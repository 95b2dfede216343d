import { z } from "zod";
import { getRun, listRuns, startSnapshot, ZRun } from "../../runs/service.ts";
import { createTRPCRouter, editorProcedure, rest, viewerProcedure } from "../trpc.ts";

export const runsRouter = createTRPCRouter({
  get: viewerProcedure.meta(rest("GET", "/runs/{id}", "runs", "A run: status, counters, progress, error")).input(z.object({ id: z.uuid() })).output(ZRun).query(({ input }) => getRun(input.id)),
  list: viewerProcedure
    .meta(rest("GET", "/runs", "runs", "Runs, newest first"))
    .input(z.object({ source_id: z.uuid().optional(), limit: z.number().int().min(1).max(200).default(20), cursor: z.string().optional() }))
    .output(z.object({ runs: z.array(ZRun), next_cursor: z.string().nullable() }))
    .query(({ input }) => listRuns(input)),
  /** Queues a snapshot of a source (all mapped entities, or the ones named). */
  snapshot: editorProcedure
    .meta(
      rest(
        "POST",
        "/sources/{id}/snapshot",
        "runs",
        "Queue a snapshot of the mapped entities (or those named); a worker runs it. On a source with incremental sync, a run reads the rows whose cursor moved since the last one; full: true reads every row and tombstones contexts whose rows are gone",
        202,
      ),
    )
    .input(z.object({ id: z.uuid(), entities: z.array(z.string().min(1).max(200)).min(1).max(200).optional(), full: z.boolean().optional() }))
    .output(z.object({ run_id: z.uuid() }))
    .mutation(({ input, ctx }) => startSnapshot(input.id, input.entities, ctx.principal, { full: input.full })),
});
