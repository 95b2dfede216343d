import { z } from "zod";
import { getRun, listRuns, startSnapshot, ZRun } from "../../runs/service.ts";
import { createTRPCRouter, editorProcedure, viewerProcedure } from "../trpc.ts";

export const runsRouter = createTRPCRouter({
  get: viewerProcedure.input(z.object({ id: z.uuid() })).output(ZRun).query(({ input }) => getRun(input.id)),
  list: viewerProcedure
    .input(z.object({ source_id: z.uuid().optional(), limit: z.number().int().min(1).max(200).default(20), cursor: z.string().optional() }))
    .output(z.object({ runs: z.array(ZRun), next_cursor: z.string().nullable() }))
    .query(({ input }) => listRuns(input)),
  /** Queues a snapshot of a source (all mapped entities, or the ones named). */
  snapshot: editorProcedure
    .input(z.object({ id: z.uuid(), entities: z.array(z.string().min(1)).min(1).optional() }))
    .output(z.object({ run_id: z.uuid() }))
    .mutation(({ input, ctx }) => startSnapshot(input.id, input.entities, ctx.principal)),
});
