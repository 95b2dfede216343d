// Mapping versions: append-only; the highest version of a source is the one in force.
import { prisma } from "../db.ts";

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

/** Saves the next version; two concurrent saves cannot take the same number (unique key, retried). */
export async function saveMappingVersion(sourceId: string, document: object, createdBy: string | null): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const latest = await latestMapping(sourceId);
    const version = (latest?.version ?? 0) + 1;
    try {
      await prisma().mappingVersion.create({ data: { sourceId, version, document, createdBy } });
      return version;
    } catch (e) {
      if ((e as { code?: string }).code !== "P2002" || attempt > 3) throw e;
    }
  }
}
