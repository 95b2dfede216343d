// Saving a mapping so that the change reaches the store (docs/lifecycle.md, "A mapping change").
// A saved version changes how new records are built; contexts already in the store keep the
// version that built them until they are rebuilt. With "re-map existing contexts" the save also:
//   - re-snapshots every entity whose mapping entries changed (or were added) under the new
//     version; the snapshot's final sweep tombstones the contexts whose ids the new mapping no
//     longer produces, and a run still snapshotting those entities is superseded;
//   - tombstones the contexts of entities removed from the mapping.
// Either way the answer warns (with the field path) about context types other sources already
// write: their ids would collide (a collision is a dead letter, never a silent overwrite).
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import type { Principal } from "../auth/roles.ts";
import { pgPool } from "../db.ts";
import { logger } from "../logger.ts";
import { queueSnapshot } from "../runs/service.ts";
import { contextsByMappingVersion, otherWritersOf, tombstoneEntities } from "../store/contexts.ts";
import { getMappings, saveMappings, ZMappings } from "./service.ts";
import type { TEntityMapping, TMappingDocument } from "./spec.ts";

const log = logger("mappings");

export const ZMappingWarning = z.object({ path: z.string(), message: z.string() });

export const ZSavedMappings = ZMappings.extend({
  warnings: z.array(ZMappingWarning).describe("Things to know about the saved mapping (it was saved): e.g. a context type another source already writes"),
  remap: z
    .object({
      run_id: z.string().nullable().describe("The snapshot run re-mapping the changed entities (null: none changed)"),
      entities: z.array(z.string()).describe("Entities re-snapshotted under the new version"),
      removed: z.array(z.string()).describe("Entities no longer mapped: their contexts were tombstoned"),
      tombstoned: z.number().describe("Contexts of removed entities tombstoned"),
    })
    .nullable()
    .describe("What re-mapping existing contexts did (null unless asked with remap: true)"),
});
export type TSavedMappings = z.infer<typeof ZSavedMappings>;

/** Entities whose entries differ between two documents: changed or added, and removed. */
export function mappingChanges(before: TEntityMapping[], after: TEntityMapping[]): { changed: string[]; removed: string[] } {
  const byTable = (doc: TEntityMapping[]) => {
    const m = new Map<string, TEntityMapping[]>();
    for (const e of doc) m.set(e.source.table, [...(m.get(e.source.table) ?? []), e]);
    return m;
  };
  const old = byTable(before);
  const now = byTable(after);
  return {
    changed: [...now.keys()].filter((t) => !isDeepStrictEqual(now.get(t), old.get(t))),
    removed: [...old.keys()].filter((t) => !now.has(t)),
  };
}

export async function saveAndRemap(sourceId: string, doc: TMappingDocument, options: { remap: boolean }, by: Principal): Promise<TSavedMappings> {
  const before = (await getMappings(sourceId)).mappings;
  const saved = await saveMappings(sourceId, doc, by);
  const warnings = await collisionWarnings(sourceId, doc);
  if (!options.remap) return { ...saved, warnings, remap: null };
  const { changed, removed } = mappingChanges(before, doc.mappings);
  const tombstoned = await tombstoneEntities(pgPool(), sourceId, removed);
  const run = changed.length ? await queueSnapshot(sourceId, changed, by.name) : null;
  log.info({ source_id: sourceId, version: saved.version, remapped: changed, removed, tombstoned, run_id: run?.run_id ?? null }, "mapping saved; re-mapping existing contexts");
  return { ...saved, warnings, remap: { run_id: run?.run_id ?? null, entities: changed, removed, tombstoned } };
}

/** A context type another source already writes: the ids of the two would collide. */
async function collisionWarnings(sourceId: string, doc: TMappingDocument) {
  const warnings: z.infer<typeof ZMappingWarning>[] = [];
  const seen = new Map<string, string[]>();
  for (const [i, m] of doc.mappings.entries()) {
    const type = m.target.context_type;
    if (!seen.has(type)) seen.set(type, await otherWritersOf(type, sourceId));
    const others = seen.get(type)!;
    if (others.length) {
      warnings.push({
        path: `mappings[${i}].target.context_type`,
        message: `contexts of type ${type} are already written by ${others.map((n) => `source ${n}`).join(", ")}: records whose ids collide become dead letters; give this source a context type of its own`,
      });
    }
  }
  return warnings;
}

export const ZMappingCoverage = z.object({
  version: z.number().int().describe("The mapping version in force"),
  contexts: z.array(z.object({ mapping_version: z.number().int(), contexts: z.number().int() })).describe("Live contexts of the source by the mapping version that built them"),
  older: z.number().int().describe("Live contexts built under an older version than the one in force (re-map to rebuild them)"),
});

/** How many of the source's contexts each mapping version built, and how many are older than the one in force. */
export async function mappingCoverage(sourceId: string): Promise<z.infer<typeof ZMappingCoverage>> {
  const { version } = await getMappings(sourceId);
  const contexts = await contextsByMappingVersion(sourceId);
  return { version, contexts, older: contexts.filter((c) => c.mapping_version < version).reduce((n, c) => n + c.contexts, 0) };
}
