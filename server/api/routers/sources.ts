import { z } from "zod";
import * as sources from "../../sources/service.ts";
import {
  ZCreateSourceInput,
  ZDeleteSourceInput,
  ZListInput,
  ZSource,
  ZSourceId,
  ZSourceList,
  ZUpdateSourceInput,
} from "../../sources/schemas.ts";
import { createTRPCRouter, editorProcedure, viewerProcedure } from "../trpc.ts";

export const sourcesRouter = createTRPCRouter({
  list: viewerProcedure
    .input(ZListInput.default({ limit: 100 }))
    .output(ZSourceList)
    .query(({ input }) => sources.listSources(input)),
  get: viewerProcedure
    .input(ZSourceId)
    .output(ZSource)
    .query(({ input }) => sources.getSource(input.id)),
  create: editorProcedure
    .input(ZCreateSourceInput)
    .output(ZSource)
    .mutation(({ input }) => sources.createSource(input)),
  update: editorProcedure
    .input(ZUpdateSourceInput)
    .output(ZSource)
    .mutation(({ input }) => sources.updateSource(input)),
  delete: editorProcedure
    .input(ZDeleteSourceInput)
    .output(z.void())
    .mutation(({ input }) => sources.deleteSource(input)),
});
