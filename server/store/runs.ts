// Runs: created by producers, advanced by the worker that executes them.
import type { Prisma } from "../../generated/prisma/client.ts";
import { pgPool, prisma } from "../db.ts";

/**
 * A run (SQL over `runs`) that writes a source's contexts besides its stream: a snapshot or a
 * dead-letter replay, queued or running. One definition for everything that must know of one
 * (hard-delete purges, a stream's batches in flight, removing a source's capture).
 */
export const CONTEXT_WRITING_RUN = "runs.kind IN ('snapshot', 'replay') AND runs.status IN ('queued', 'running')";

export const runSelect = {
  id: true,
  sourceId: true,
  kind: true,
  status: true,
  mappingVersion: true,
  counters: true,
  progressDone: true,
  progressTotal: true,
  error: true,
  errorCategory: true,
  retryAttempt: true,
  nextRetryAt: true,
  request: true,
  createdBy: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
} satisfies Prisma.RunSelect;
export type RunRow = Prisma.RunGetPayload<{ select: typeof runSelect }>;

export function createRun(data: { sourceId: string; kind: string; request: object; createdBy: string | null }) {
  return prisma().run.create({ data, select: runSelect });
}

type Tx = Prisma.TransactionClient;

/**
 * The source's run lock, held to the end of the transaction: whoever starts a snapshot run of the
 * source or closes one holds it, so "is another one going?" is answered once at a time.
 */
async function lockSourceRuns(tx: Tx, sourceId: string) {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`ecm-runs:${sourceId}`}, 0))`;
}

/** A snapshot run of the source still queued or running, other than `except` (under the run lock). */
function snapshotGoing(tx: Tx, sourceId: string, except?: string) {
  return tx.run.findFirst({ where: { sourceId, kind: "snapshot", status: { in: ["queued", "running"] }, ...(except ? { id: { not: except } } : {}) }, select: { id: true } });
}

/**
 * Creates a snapshot run unless one of the source's is still queued or running (then names it).
 * The check and the insert hold the source's run lock: two callers at once never both start one.
 */
export function createRunUnlessGoing(data: { sourceId: string; kind: "snapshot"; request: object; createdBy: string | null }): Promise<{ run: RunRow } | { going: string }> {
  return prisma().$transaction(async (tx) => {
    await lockSourceRuns(tx, data.sourceId);
    const going = await snapshotGoing(tx, data.sourceId);
    return going ? { going: going.id } : { run: await tx.run.create({ data, select: runSelect }) };
  });
}

export function findRun(id: string) {
  return prisma().run.findUnique({ where: { id }, select: runSelect });
}

/** Runs of these kinds still queued or running that were created before `before`. */
export function unfinishedRuns(kinds: string[], before: Date) {
  return prisma().run.findMany({
    where: { kind: { in: kinds }, status: { in: ["queued", "running"] }, createdAt: { lt: before } },
    select: { id: true, kind: true, sourceId: true },
    take: 500,
  });
}

/** A closing transaction waits its turn for a connection and the run lock like any statement, not Prisma's 2 s / 5 s defaults. */
const CLOSING = { maxWait: 30_000, timeout: 30_000 };

/**
 * Closes a run as failed unless it finished meanwhile; true when it was still open. A snapshot
 * run's source fails with it, in the same transaction (as closeSnapshotRun).
 */
export function closeLostRun(run: { id: string; kind: string; sourceId: string }, error: string) {
  return prisma().$transaction(async (tx) => {
    await lockSourceRuns(tx, run.sourceId);
    const r = await tx.run.updateMany({
      where: { id: run.id, status: { in: ["queued", "running"] } },
      data: { status: "failed", finishedAt: new Date(), error, errorCategory: "TRANSIENT" },
    });
    if (r.count && run.kind === "snapshot") await settleSnapshotSource(tx, run.id, run.sourceId, "failed", `snapshot ${error}`);
    return r.count > 0;
  }, CLOSING);
}

export function listRuns(sourceId: string | undefined, limit: number, cursor?: string) {
  return prisma().run.findMany({
    where: sourceId ? { sourceId } : {},
    select: runSelect,
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit,
    ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
  });
}

/** Moves a run to running unless it already finished (a redelivered job must not restart a finished run). */
export async function startRun(id: string, progressTotal: number | null) {
  const r = await prisma().run.updateMany({
    where: { id, status: { in: ["queued", "running"] } },
    data: { status: "running", startedAt: new Date(), progressTotal: progressTotal === null ? null : BigInt(progressTotal) },
  });
  return r.count > 0;
}

export function updateRunProgress(id: string, done: number, counters: object) {
  return prisma().run.update({ where: { id }, data: { progressDone: BigInt(done), counters } });
}

type RunOutcome = { status: "succeeded" | "failed" | "cancelled"; counters?: object; error?: string | null; errorCategory?: string | null; mappingVersion?: number; progressDone?: number; progressTotal?: number };

export function finishRun(id: string, data: RunOutcome) {
  return prisma().run.update({ where: { id }, data: finishedRunData(data) });
}

/**
 * Closes a snapshot run and takes its source out of "snapshotting" in one transaction, so that no
 * reader sees the run finished while its source still snapshots. A failed run fails the source
 * with its error; otherwise the source goes idle unless another of its snapshot runs is queued or
 * running (checked under the source's run lock, which createRunUnlessGoing holds to create one).
 */
export function closeSnapshotRun(id: string, sourceId: string, data: RunOutcome) {
  return prisma().$transaction(async (tx) => {
    await lockSourceRuns(tx, sourceId);
    await tx.run.update({ where: { id }, data: finishedRunData(data), select: { id: true } });
    await settleSnapshotSource(tx, id, sourceId, data.status, data.error ?? null);
  }, CLOSING);
}

/** The source's state once snapshot run `id` closed (under the run lock): failed with it, else idle unless another one goes. */
async function settleSnapshotSource(tx: Tx, id: string, sourceId: string, status: RunOutcome["status"], error: string | null) {
  if (status === "failed") await tx.source.update({ where: { id: sourceId }, data: { state: "failed", lastError: error }, select: { id: true } });
  else if (!(await snapshotGoing(tx, sourceId, id))) await tx.source.update({ where: { id: sourceId }, data: { state: "idle", lastError: null }, select: { id: true } });
}

function finishedRunData(data: RunOutcome) {
  return {
    status: data.status,
    finishedAt: new Date(),
    nextRetryAt: null,
    ...(data.counters ? { counters: data.counters } : {}),
    error: data.error ?? null,
    errorCategory: data.errorCategory ?? null,
    ...(data.mappingVersion !== undefined ? { mappingVersion: data.mappingVersion } : {}),
    ...(data.progressDone !== undefined ? { progressDone: BigInt(data.progressDone) } : {}),
    ...(data.progressTotal !== undefined ? { progressTotal: BigInt(data.progressTotal) } : {}),
  } satisfies Prisma.RunUpdateInput;
}

export function setSourceState(id: string, state: string, lastError: string | null = null) {
  return prisma().source.update({ where: { id }, data: { state, lastError }, select: { id: true } });
}

/** Adds a part's progress and counters to a run (parts of a run run in parallel, so in SQL). */
export async function addRunProgress(id: string, rows: number, counters: Record<string, number>) {
  await pgPool().query(
    `UPDATE runs SET progress_done = progress_done + $2,
       counters = (SELECT jsonb_object_agg(k, coalesce((runs.counters->>k)::bigint, 0) + coalesce((($3::jsonb)->>k)::bigint, 0))
                   FROM (SELECT jsonb_object_keys(runs.counters || $3::jsonb) AS k) keys)
     WHERE id = $1`,
    [id, rows, JSON.stringify(counters)],
  );
}

/**
 * A TRANSIENT failure the run retries: the attempt it was, when the next starts, and what failed
 * (shown while the run still runs; a finished run clears it). Counted in `retried`.
 */
export async function markRunRetrying(id: string, attempt: number, nextAt: Date, error: string, opts: { countRetry: boolean } = { countRetry: true }) {
  await pgPool().query(
    `UPDATE runs SET retry_attempt = $2, next_retry_at = $3, error = $4, error_category = 'TRANSIENT',
       counters = CASE WHEN $5 THEN counters || jsonb_build_object('retried', coalesce((counters->>'retried')::bigint, 0) + 1) ELSE counters END
     WHERE id = $1 AND status IN ('queued', 'running')`,
    [id, attempt, nextAt, error.slice(0, 2000), opts.countRetry],
  );
}

/**
 * An attempt starts: the wait it was queued behind is over, and the TRANSIENT error it waited out is
 * no longer the run's (a part still waiting for a later try keeps both).
 */
export async function runRetryDue(id: string) {
  await pgPool().query(
    `UPDATE runs SET next_retry_at = NULL, error = CASE WHEN error_category = 'TRANSIENT' THEN NULL ELSE error END,
       error_category = CASE WHEN error_category = 'TRANSIENT' THEN NULL ELSE error_category END
     WHERE id = $1 AND next_retry_at <= now() AND status IN ('queued', 'running')`,
    [id],
  );
}

/**
 * A snapshot run's rows read, contexts written and dead letters, summed from its passes'
 * checkpoints (counted in the chunks' own transactions): exact through retries, a worker's crash
 * and chunks read twice. A pass a newer run took over counts for that run from then on, and a pass
 * that starts over above a TRUNCATE counts from zero again (docs/errors.md).
 */
export async function refreshSnapshotProgress(id: string) {
  await pgPool().query(
    `UPDATE runs r SET progress_done = s.rows,
       counters = r.counters || jsonb_build_object('read', s.rows, 'written', s.written, 'dead_lettered', s.dead)
     FROM (SELECT coalesce(sum(rows_done), 0) AS rows, coalesce(sum(written_done), 0) AS written, coalesce(sum(dead_done), 0) AS dead
           FROM snapshot_checkpoints WHERE run_id = $1) s
     WHERE r.id = $1 AND r.kind = 'snapshot' AND r.status IN ('queued', 'running')`,
    [id],
  );
}

/** The source's latest run created by `actor` (a schedule's, for its status). */
export async function latestRunBy(sourceId: string, actor: string) {
  const { rows } = await pgPool().query<{ id: string; status: string; created_at: Date; finished_at: Date | null }>(
    "SELECT id::text, status, created_at, finished_at FROM runs WHERE source_id = $1 AND created_by = $2 ORDER BY created_at DESC LIMIT 1",
    [sourceId, actor],
  );
  return rows[0] ?? null;
}
