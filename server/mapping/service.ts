// Saving, reading and previewing a source's mapping. Validation runs against the live schema of
// the source (discovered through its connector) before anything is saved.
import { z } from "zod";
import type { Principal } from "../auth/roles.ts";
import type { EntitySchema, SourceRecord } from "../connectors/types.ts";
import { jsonDiff } from "../audit/diff.ts";
import { recordIn } from "../audit/trail.ts";
import { AppError } from "../errors/app-error.ts";
import { logger } from "../logger.ts";
import { requireCapability } from "../connectors/types.ts";
import { withInteractiveConnector } from "../sources/connectivity.ts";
import * as store from "../store/mappings.ts";
import { compileMapping, type MappedContext } from "./compile.ts";
import { ZEntityMapping, ZMappingDocument, type TMappingDocument } from "./spec.ts";
import { validateMapping } from "./validate.ts";

const log = logger("mappings");

export const ZMappings = z.object({ version: z.number().int(), mappings: z.array(ZEntityMapping) });
export const ZPreviewInput = z.object({
  entity: z.string().min(1),
  limit: z.number().int().min(1).max(100).default(10),
  context_type: z.string().optional(),
  mappings: ZMappingDocument.shape.mappings.optional(),
});
export const ZPreview = z.object({
  version: z.number().int().nullable(),
  records: z.array(
    z.object({
      source: z.record(z.string(), z.unknown()),
      context: z.object({ context_type: z.string(), context_id: z.string(), data: z.record(z.string(), z.unknown()) }).nullable(),
      errors: z.array(z.object({ field: z.string(), message: z.string(), category: z.literal("DATA") })),
    }),
  ),
});

export const transformEnv = () => ({ hashSalt: process.env.ECM_HASH_SALT || undefined });

export async function getMappings(sourceId: string) {
  const latest = await store.latestMapping(sourceId);
  return { version: latest?.version ?? 0, mappings: ((latest?.document as TMappingDocument | undefined)?.mappings ?? []) };
}

/** Describes the tables a document names; a table that does not exist maps to null. */
async function schemasOf(sourceId: string, tables: string[]): Promise<Map<string, EntitySchema | null>> {
  return withInteractiveConnector(sourceId, async (connector) => {
    const out = new Map<string, EntitySchema | null>();
    for (const t of new Set(tables)) {
      try {
        out.set(t, await connector.describeEntity(t));
      } catch (e) {
        if (e instanceof AppError && e.code === "NOT_FOUND") out.set(t, null);
        else throw e;
      }
    }
    return out;
  });
}

export async function checkMappings(sourceId: string, doc: TMappingDocument, prefix = "") {
  const schemas = await schemasOf(sourceId, doc.mappings.map((m) => m.source.table));
  const issues = validateMapping(doc, (t) => schemas.get(t) ?? null, transformEnv());
  if (issues.length) throw AppError.invalid(issues.map((i) => ({ ...i, path: prefix + i.path })), "The mapping is not valid; nothing was saved");
}

export async function saveMappings(sourceId: string, doc: TMappingDocument, by: Principal) {
  await checkMappings(sourceId, doc);
  const document = ZMappingDocument.parse(doc);
  const version = await store.saveMappingVersion(sourceId, document, by.name, (tx, saved) =>
    recordIn(tx, {
      action: "mapping.save",
      source_id: sourceId,
      target: { kind: "mapping_version", id: String(saved.version) },
      details: { version: saved.version, previous_version: saved.previous?.version ?? null, changes: jsonDiff(saved.previous?.document ?? { mappings: [] }, document) },
    }),
  );
  log.info({ source_id: sourceId, version, by: by.name }, "mapping saved");
  return { version, mappings: doc.mappings };
}

export async function previewMapping(sourceId: string, input: z.output<typeof ZPreviewInput>) {
  const saved = input.mappings ? null : await getMappings(sourceId);
  const doc = { mappings: input.mappings ?? saved!.mappings };
  if (input.mappings) await checkMappings(sourceId, doc, "");
  const entry = doc.mappings.find((m) => m.source.table === input.entity && (!input.context_type || m.target.context_type === input.context_type));
  if (!entry) {
    throw AppError.invalid([{ path: "entity", message: `no mapping for ${input.entity}${input.context_type ? ` → ${input.context_type}` : ""}; map it first or send a draft` }]);
  }
  const mapper = compileMapping(entry, transformEnv());
  const rows: SourceRecord[] = await withInteractiveConnector(sourceId, async (connector) => {
    const out: SourceRecord[] = [];
    const reader = requireCapability(connector, "readSnapshotChunks", "read sample rows");
    for await (const chunk of reader.readSnapshotChunks(input.entity, { batch_size: input.limit, limit: input.limit })) out.push(...chunk.records);
    return out;
  });
  return {
    version: saved ? saved.version : null,
    records: rows.map((row) => {
      const { context, errors } = mapper.preview(row);
      return { source: row, context: context as MappedContext | null, errors };
    }),
  };
}
