import { z } from "zod";
import { getContext, listContexts, ZListContextsInput, ZStoredContext } from "../../contexts/service.ts";
import { createTRPCRouter, viewerProcedure } from "../trpc.ts";

export const contextsRouter = createTRPCRouter({
  list: viewerProcedure
    .input(ZListContextsInput)
    .output(z.object({ contexts: z.array(ZStoredContext), next_cursor: z.string().nullable() }))
    .query(({ input }) => listContexts(input)),
  get: viewerProcedure
    .input(z.object({ context_type: z.string(), context_id: z.string(), include_deleted: z.boolean().default(false) }))
    .output(ZStoredContext)
    .query(({ input }) => getContext(input.context_type, input.context_id, input.include_deleted)),
});
