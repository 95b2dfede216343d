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
import { createTRPCRouter, editorProcedure, viewerProcedure } from "../trpc.ts";

export const deadLettersRouter = createTRPCRouter({
  list: viewerProcedure
    .input(ZListDeadLettersInput)
    .output(z.object({ dead_letters: z.array(ZDeadLetter), next_cursor: z.string().nullable() }))
    .query(({ input }) => listDeadLetters(input)),
  get: viewerProcedure.input(z.object({ id: z.uuid() })).output(ZDeadLetter).query(({ input }) => getDeadLetter(input.id)),
  openCount: viewerProcedure
    .input(z.object({ source_id: z.uuid().optional() }).default({}))
    .output(z.object({ open: z.number() }))
    .query(async ({ input }) => ({ open: await countOpen(input.source_id) })),
  replay: editorProcedure.input(ZReplayInput).output(z.object({ run_id: z.uuid() })).mutation(({ input, ctx }) => startReplay(input, ctx.principal)),
  discard: editorProcedure.input(z.object({ id: z.uuid() })).output(ZDeadLetter).mutation(({ input }) => discardDeadLetter(input.id)),
});
