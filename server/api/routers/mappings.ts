import { z } from "zod";
import { ZMappingDocument } from "../../mapping/spec.ts";
import { TRANSFORMS } from "../../mapping/transforms.ts";
import { getMappings, previewMapping, ZMappings, ZPreview, ZPreviewInput } from "../../mapping/service.ts";
import { mappingCoverage, saveAndRemap, ZMappingCoverage, ZSavedMappings } from "../../mapping/remap.ts";
import { listMappingVersions, mappingVersion } from "../../store/mappings.ts";
import { AppError } from "../../errors/app-error.ts";
import { ZSourceId } from "../../sources/schemas.ts";
import { createTRPCRouter, editorProcedure, rest, viewerProcedure } from "../trpc.ts";

export const ZTransformDoc = z.object({ name: z.string(), summary: z.string(), example: z.string(), accepts: z.union([z.array(z.string()), z.literal("any")]), needs_source: z.boolean() });

export const mappingsRouter = createTRPCRouter({
  get: viewerProcedure
    .meta(rest("GET", "/sources/{id}/mappings", "mappings", "The mapping in force (the spec's format) and its version"))
    .input(ZSourceId).output(ZMappings).query(({ input }) => getMappings(input.id)),
  save: editorProcedure
    .meta(rest("PUT", "/sources/{id}/mappings", "mappings", "Save a mapping document as a new version, after checking it against the source's schema"))
    .input(
      ZSourceId.extend({
        mappings: ZMappingDocument.shape.mappings,
        remap: z.boolean().optional().describe("Re-map existing contexts: re-snapshot the entities whose mapping changed, tombstone those of entities removed from it (docs/lifecycle.md)"),
      }),
    )
    .output(ZSavedMappings)
    .mutation(({ input, ctx }) => saveAndRemap(input.id, { mappings: input.mappings }, { remap: input.remap ?? false }, ctx.principal)),
  coverage: viewerProcedure
    .meta(rest("GET", "/sources/{id}/mappings/coverage", "mappings", "Live contexts of the source by the mapping version that built them, and how many are older than the version in force"))
    .input(ZSourceId)
    .output(ZMappingCoverage)
    .query(({ input }) => mappingCoverage(input.id)),
  versions: viewerProcedure
    .input(ZSourceId)
    .output(z.object({ versions: z.array(z.object({ version: z.number(), created_at: z.string(), created_by: z.string().nullable() })) }))
    .query(async ({ input }) => ({
      versions: (await listMappingVersions(input.id)).map((v) => ({ version: v.version, created_at: v.createdAt.toISOString(), created_by: v.createdBy })),
    })),
  version: viewerProcedure
    .input(ZSourceId.extend({ version: z.number().int().min(1) }))
    .output(ZMappings)
    .query(async ({ input }) => {
      const v = await mappingVersion(input.id, input.version);
      if (!v) throw AppError.notFound(`mapping version ${input.version}`);
      return { version: v.version, mappings: (v.document as { mappings: never[] }).mappings };
    }),
  preview: viewerProcedure
    .meta(rest("POST", "/sources/{id}/preview", "mappings", "Sample rows of an entity through the saved or a draft mapping: raw row, mapped context, per-field errors"))
    .input(ZSourceId.extend(ZPreviewInput.shape))
    .output(ZPreview)
    .mutation(({ input }) => previewMapping(input.id, input)),
  /** The transform library with its documentation, as the console shows it. */
  transforms: viewerProcedure.output(z.object({ transforms: z.array(ZTransformDoc) })).query(() => ({
    transforms: [...TRANSFORMS.values()].map((t) => ({ name: t.name, summary: t.summary, example: t.example, accepts: t.accepts, needs_source: t.needsSource })),
  })),
});
