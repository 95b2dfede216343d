import { z } from "zod";
import {
  discardDeadLetter,
  getDeadLetter,
  listDeadLetters,
  startReplay,
  ZDeadLetter,
  ZListDeadLettersInput,
  ZReplayInput,
} from "../../dead-letters/service.ts";
import { countOpen } from "../../store/dead-letters.ts";
import { createTRPCRouter, editorProcedure, rest, viewerProcedure } from "../trpc.ts";

export const deadLettersRouter = createTRPCRouter({
  list: viewerProcedure
    .meta(rest("GET", "/dead-letters", "dead-letters", "Dead letters, newest first (since/until: ISO 8601 instants on created_at)"))
    .input(ZListDeadLettersInput)
    .output(z.object({ dead_letters: z.array(ZDeadLetter), next_cursor: z.string().nullable() }))
    .query(({ input }) => listDeadLetters(input)),
  get: viewerProcedure.meta(rest("GET", "/dead-letters/{id}", "dead-letters", "One dead letter: payload, error, attempts, status and outcome")).input(z.object({ id: z.uuid() })).output(ZDeadLetter).query(({ input }) => getDeadLetter(input.id)),
  openCount: viewerProcedure
    .input(z.object({ source_id: z.uuid().optional() }).default({}))
    .output(z.object({ open: z.number() }))
    .query(async ({ input }) => ({ open: await countOpen(input.source_id) })),
  replay: editorProcedure
    .meta(rest("POST", "/dead-letters/replay", "dead-letters", "Replay dead letters by ids or all open ones matching a filter (one source at a time), through the mapping in force now", 202))
    .input(ZReplayInput).output(z.object({ run_id: z.uuid() })).mutation(({ input, ctx }) => startReplay(input, ctx.principal)),
  discard: editorProcedure.meta(rest("POST", "/dead-letters/{id}/discard", "dead-letters", "Discard a dead letter")).input(z.object({ id: z.uuid() })).output(ZDeadLetter).mutation(({ input }) => discardDeadLetter(input.id)),
});
