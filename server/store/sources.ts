// Persistence of sources. Config JSON holds secret references only (see server/sources/service.ts).
import type { Prisma } from "../../generated/prisma/client.ts";
import { prisma } from "../db.ts";

export const sourceSelect = {
  id: true,
  name: true,
  connectorType: true,
  config: true,
  state: true,
  lastError: true,
  isDemo: true,
  demoWriter: true,
  schedulePaused: true,
  createdAt: true,
  updatedAt: true,
} satisfies Prisma.SourceSelect;

export type SourceRow = Prisma.SourceGetPayload<{ select: typeof sourceSelect }>;
export type Tx = Prisma.TransactionClient;

export function listSources(opts: { limit: number; cursor?: string }): Promise<SourceRow[]> {
  return prisma().source.findMany({
    select: sourceSelect,
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    take: opts.limit,
    ...(opts.cursor ? { cursor: { id: opts.cursor }, skip: 1 } : {}),
  });
}

export function findSource(id: string): Promise<SourceRow | null> {
  return prisma().source.findUnique({ where: { id }, select: sourceSelect });
}

export function findSourceByName(tx: Tx, name: string) {
  return tx.source.findUnique({ where: { name }, select: { id: true } });
}

/** Locks the source row for the rest of the transaction (concurrent edits serialize). */
export async function findSourceForUpdate(tx: Tx, id: string): Promise<{ id: string; name: string; config: unknown } | null> {
  const rows = await tx.$queryRaw<{ id: string; name: string; config: unknown }[]>`SELECT id::text, name, config FROM sources WHERE id = ${id}::uuid FOR UPDATE`;
  return rows[0] ?? null;
}

export function insertSource(tx: Tx, data: Prisma.SourceCreateInput): Promise<SourceRow> {
  return tx.source.create({ data, select: sourceSelect });
}

export function updateSource(tx: Tx, id: string, data: Prisma.SourceUpdateInput): Promise<SourceRow> {
  return tx.source.update({ where: { id }, data, select: sourceSelect });
}

export function deleteSource(tx: Tx, id: string) {
  return tx.source.delete({ where: { id }, select: { id: true, config: true } });
}

/** Runs fn in one transaction of the metadata database. */
export function inTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
  return prisma().$transaction(fn);
}

export function getSourceByName(name: string) {
  return prisma().source.findUnique({ where: { name }, select: { id: true } });
}

/** Sources whose config names this secret reference (password_secret). */
export function sourcesUsingReference(reference: string): Promise<{ id: string; config: unknown }[]> {
  return prisma().source.findMany({ where: { config: { path: ["authentication", "password_secret"], equals: reference } }, select: { id: true, config: true } });
}

/** What a source's schedule needs: its config (options.schedule) and whether an operator paused it. */
export type ScheduleState = { id: string; config: unknown; schedulePaused: boolean };
const scheduleSelect = { id: true, config: true, schedulePaused: true } satisfies Prisma.SourceSelect;

export function scheduleStates(): Promise<ScheduleState[]> {
  return prisma().source.findMany({ select: scheduleSelect });
}

export function findScheduleState(id: string): Promise<ScheduleState | null> {
  return prisma().source.findUnique({ where: { id }, select: scheduleSelect });
}

export function setSchedulePaused(id: string, paused: boolean, db: Tx = prisma()): Promise<ScheduleState> {
  return db.source.update({ where: { id }, data: { schedulePaused: paused }, select: scheduleSelect });
}
