import { z } from "zod";
import { getContext, listContexts, ZListContextsInput, ZStoredContext } from "../../contexts/service.ts";
import { createTRPCRouter, rest, viewerProcedure } from "../trpc.ts";

export const contextsRouter = createTRPCRouter({
  list: viewerProcedure
    .meta(rest("GET", "/contexts", "contexts", "Contexts in key order, filtered by context_type and source_id"))
    .input(ZListContextsInput)
    .output(z.object({ contexts: z.array(ZStoredContext), next_cursor: z.string().nullable() }))
    .query(({ input }) => listContexts(input)),
  get: viewerProcedure
    .meta(rest("GET", "/contexts/{context_type}/{context_id}", "contexts", "One context; 404 when absent or deleted (?include_deleted=true shows tombstones)"))
    .input(z.object({ context_type: z.string(), context_id: z.string(), include_deleted: z.boolean().default(false) }))
    .output(ZStoredContext)
    .query(({ input }) => getContext(input.context_type, input.context_id, input.include_deleted)),
});
