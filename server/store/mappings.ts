// Mapping versions: append-only; the highest version of a source is the one in force.
import { prisma } from "../db.ts";
import type { Tx } from "./sources.ts";

export async function latestMapping(sourceId: string) {
  return prisma().mappingVersion.findFirst({
    where: { sourceId },
    orderBy: { version: "desc" },
    select: { version: true, document: true, createdAt: true, createdBy: true },
  });
}

export async function mappingVersion(sourceId: string, version: number) {
  return prisma().mappingVersion.findUnique({
    where: { sourceId_version: { sourceId, version } },
    select: { version: true, document: true, createdAt: true, createdBy: true },
  });
}

export async function listMappingVersions(sourceId: string) {
  return prisma().mappingVersion.findMany({
    where: { sourceId },
    orderBy: { version: "desc" },
    select: { version: true, createdAt: true, createdBy: true },
  });
}

/** The version saved and the one it follows (null: the first). */
export type SavedVersion = { version: number; previous: { version: number; document: unknown } | null };

/**
 * Saves the next version; two concurrent saves cannot take the same number (unique key, retried).
 * `within` runs in the save's transaction (the audit entry of the change).
 */
export async function saveMappingVersion(sourceId: string, document: object, createdBy: string | null, within?: (tx: Tx, saved: SavedVersion) => Promise<void>): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await prisma().$transaction(async (tx) => {
        const latest = await tx.mappingVersion.findFirst({ where: { sourceId }, orderBy: { version: "desc" }, select: { version: true, document: true } });
        const version = (latest?.version ?? 0) + 1;
        await tx.mappingVersion.create({ data: { sourceId, version, document, createdBy } });
        await within?.(tx, { version, previous: latest });
        return version;
      });
    } catch (e) {
      if ((e as { code?: string }).code !== "P2002" || attempt > 3) throw e;
    }
  }
}
