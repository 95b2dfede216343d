// Saving a mapping so that the change reaches the store (docs/lifecycle.md, "A mapping change").
// A saved version changes how new records are built; contexts already in the store keep the
// version that built them until they are rebuilt. With "re-map existing contexts" the save also
// (remapPlan):
//   - re-snapshots every entity whose contexts were built under entries that differ from the new
//     ones (or that is new); the snapshot's final sweep tombstones the contexts whose ids the new
//     mapping no longer produces, and a run still snapshotting those entities is superseded;
//   - tombstones the contexts of entities the mapping no longer reads.
// Either way the answer warns (with the field path) about context types other sources already
// write: their ids would collide (a collision is a dead letter, never a silent overwrite).
import { recordAfter } from "../audit/trail.ts";
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import type { Principal } from "../auth/roles.ts";
import { pgPool } from "../db.ts";
import { logger } from "../logger.ts";
import { queueSnapshot } from "../runs/service.ts";
import { liveContextsByVersion, otherWritersOf, tombstoneEntities } from "../store/contexts.ts";
import { mappingVersion } from "../store/mappings.ts";
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

/** A document's entries by the entity they read. */
function byTable(doc: TEntityMapping[]): Map<string, TEntityMapping[]> {
  const m = new Map<string, TEntityMapping[]>();
  for (const e of doc) m.set(e.source.table, [...(m.get(e.source.table) ?? []), e]);
  return m;
}

/**
 * What re-mapping to `after` must do, judged by what the store holds, not only by the previous
 * version (an earlier save without re-map, a snapshot that ran under an older version):
 *   - re-snapshot an entity whose live contexts were built by any version whose entries for it
 *     differ from the new ones, or that has none yet and is new or changed since `before`;
 *   - tombstone the contexts of entities the new mapping no longer reads.
 */
export function remapPlan(before: TEntityMapping[], after: TEntityMapping[], built: Map<string, TEntityMapping[][]>): { changed: string[]; removed: string[] } {
  const old = byTable(before);
  const now = byTable(after);
  const changed = [...now.keys()].filter((t) => {
    const versions = built.get(t);
    if (!versions?.length) return !isDeepStrictEqual(now.get(t), old.get(t));
    return versions.some((entries) => !isDeepStrictEqual(now.get(t), entries));
  });
  return { changed, removed: [...built.keys()].filter((t) => !now.has(t)) };
}

export async function saveAndRemap(sourceId: string, doc: TMappingDocument, options: { remap: boolean }, by: Principal): Promise<TSavedMappings> {
  const before = (await getMappings(sourceId)).mappings;
  const saved = await saveMappings(sourceId, doc, by);
  const warnings = await collisionWarnings(sourceId, doc);
  if (!options.remap) return { ...saved, warnings, remap: null };
  const { changed, removed } = remapPlan(before, doc.mappings, await builtBy(sourceId, saved.version));
  const tombstoned = await tombstoneEntities(pgPool(), sourceId, removed);
  // Full passes: an incremental source would otherwise rebuild only the rows that moved.
  const run = changed.length ? await queueSnapshot(sourceId, changed, by.name, { full: true }) : null;
  // What the re-map did to the store: the entities re-snapshotted (a queued run) and those
  // tombstoned whole (no longer mapped).
  await recordAfter({ action: "mapping.remap", source_id: sourceId, target: { kind: "mapping_version", id: String(saved.version) }, details: { version: saved.version, entities: changed, run_id: run?.run_id ?? null, removed, tombstoned } });
  log.info({ source_id: sourceId, version: saved.version, remapped: changed, removed, tombstoned, run_id: run?.run_id ?? null }, "mapping saved; re-mapping existing contexts");
  return { ...saved, warnings, remap: { run_id: run?.run_id ?? null, entities: changed, removed, tombstoned } };
}

/** For each entity with live contexts built by a version older than `version`: that version's entries for it, per version. */
async function builtBy(sourceId: string, version: number): Promise<Map<string, TEntityMapping[][]>> {
  const built = new Map<string, TEntityMapping[][]>();
  const docs = new Map<number, TEntityMapping[]>();
  for (const { entity, mapping_version: v } of await liveContextsByVersion(sourceId)) {
    if (v >= version) continue;
    if (!docs.has(v)) docs.set(v, ((await mappingVersion(sourceId, v))?.document as TMappingDocument | undefined)?.mappings ?? []);
    built.set(entity, [...(built.get(entity) ?? []), docs.get(v)!.filter((m) => m.source.table === entity)]);
  }
  return built;
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
  const byVersion = new Map<number, number>();
  for (const r of await liveContextsByVersion(sourceId)) byVersion.set(r.mapping_version, (byVersion.get(r.mapping_version) ?? 0) + r.contexts);
  const contexts = [...byVersion].sort(([a], [b]) => a - b).map(([mapping_version, n]) => ({ mapping_version, contexts: n }));
  return { version, contexts, older: contexts.filter((c) => c.mapping_version < version).reduce((n, c) => n + c.contexts, 0) };
}
