// Snapshot checkpoints: one pass per (source, entity), owned by the run that reads it. A chunk's
// checkpoint commits in the same transaction as its contexts (several chunks may commit at once
// and out of order: the checkpoint moves only over contiguous ones, moveFrontier), and only while
// its run still owns the pass, its mapping is still the latest and no TRUNCATE landed above its
// floor: otherwise the whole chunk rolls back and the pass hears why (docs/lifecycle.md, "Runs own their progress").
import type pg from "pg";
import { pgPool } from "../db.ts";

export type Checkpoint = {
  run_id: string | null;
  /** The pass's number, stamped on the contexts it writes. */
  pass: bigint;
  last_key: string[] | null;
  rows_done: number;
  done: boolean;
  generation: number;
  floor_cursor: string | null;
  floor_position: bigint;
  /** Incremental sync: what this pass reads (null: a snapshot pass of a source without it). */
  pass_range: PassRange | null;
  /** Incremental sync: the last completed pass's bounds (kept when a pass is taken over). */
  watermark: Watermark | null;
};

/**
 * A pass of incremental sync: every row (full: the first, every full_every, or asked for), the rows
 * in (lower, upper] (incremental), or the entity's contexts checked against the source's keys
 * (reconcile: reads no rows, tombstones the contexts whose rows are gone; its bounds are the last
 * pass's, unchanged). `key`: the entity's primary key when the pass started.
 */
export type PassRange = { mode: "full" | "incremental" | "reconcile"; cursor: string[]; lower: string | null; upper: string; key?: string[] };
/**
 * Where the next incremental run starts: the last completed pass's upper bound, the key its
 * contexts were written by, and how many incremental passes since a full one and since a full or
 * reconcile one.
 */
export type Watermark = { cursor: string[]; upper: string; generation: number; since_full: number; since_reconcile?: number; key?: string[] | null };

export async function loadCheckpoint(sourceId: string, entity: string): Promise<Checkpoint | null> {
  const { rows } = await pgPool().query<{
    run_id: string | null;
    pass: string;
    last_key: string[] | null;
    rows_done: string;
    done: boolean;
    generation: number;
    floor_cursor: string | null;
    floor_position: string;
    pass_range: PassRange | null;
    watermark: Watermark | null;
  }>(
    "SELECT run_id::text, pass::text, last_key, rows_done::text, done, generation, floor_cursor, floor_position::text, pass_range, watermark FROM snapshot_checkpoints WHERE source_id = $1 AND entity = $2",
    [sourceId, entity],
  );
  const r = rows[0];
  if (!r) return null;
  return { ...r, pass: BigInt(r.pass), last_key: r.last_key && r.last_key.length ? r.last_key : null, rows_done: Number(r.rows_done), floor_position: BigInt(r.floor_position) };
}

export type PassFloor = { pass: bigint; generation: number; cursor: string | null; position: bigint };

/**
 * Starts a pass of the entity for `runId` from its first key, at this floor. A newer run still
 * queued or running keeps the pass (false), and so does a pass of a newer generation; an older run
 * loses it (its next commit is refused). A pass started without a run (a tool) always takes it.
 * `continues`: the pass follows the run's own previous pass of the entity (a reconcile after its
 * incremental pass), whose counts (the run's counters are summed from them) it goes on from.
 */
export async function takeOverCheckpoint(sourceId: string, entity: string, runId: string | null, floor: PassFloor, range: PassRange | null = null, continues = false): Promise<boolean> {
  const r = await pgPool().query(
    `INSERT INTO snapshot_checkpoints AS k (source_id, entity, run_id, pass, last_key, rows_done, done, generation, floor_cursor, floor_position, truncated_position, pass_range, updated_at)
     VALUES ($1, $2, $3::uuid, $7, NULL, 0, false, $4, $5, $6, NULL, $8::jsonb, now())
     ON CONFLICT (source_id, entity) DO UPDATE SET run_id = EXCLUDED.run_id, pass = EXCLUDED.pass, last_key = NULL, ahead = '[]', done = false,
       rows_done = CASE WHEN $9 AND k.run_id = $3::uuid THEN k.rows_done ELSE 0 END,
       written_done = CASE WHEN $9 AND k.run_id = $3::uuid THEN k.written_done ELSE 0 END,
       dead_done = CASE WHEN $9 AND k.run_id = $3::uuid THEN k.dead_done ELSE 0 END,
       generation = EXCLUDED.generation, floor_cursor = EXCLUDED.floor_cursor, floor_position = EXCLUDED.floor_position, truncated_position = NULL,
       pass_range = EXCLUDED.pass_range, updated_at = now()
     WHERE k.generation <= EXCLUDED.generation
       AND ($3::uuid IS NULL OR k.run_id IS NULL OR k.run_id = $3::uuid
            OR NOT EXISTS (SELECT 1 FROM runs o WHERE o.id = k.run_id AND o.status IN ('queued', 'running')
                           AND o.created_at > coalesce((SELECT created_at FROM runs WHERE id = $3::uuid), now())))
     RETURNING 1`,
    [sourceId, entity, runId, floor.generation, floor.cursor, floor.position.toString(), floor.pass.toString(), range === null ? null : JSON.stringify(range), continues],
  );
  return r.rowCount === 1;
}

/** The run that owns an entity's pass now (null when none, or a tool's). */
export async function passOwner(client: pg.ClientBase | pg.Pool, sourceId: string, entity: string): Promise<string | null> {
  const { rows } = await client.query<{ run_id: string | null }>("SELECT run_id::text FROM snapshot_checkpoints WHERE source_id = $1 AND entity = $2", [sourceId, entity]);
  return rows[0]?.run_id ?? null;
}

/** A newer run of the entity took its pass over: this run stops writing it. */
export class SupersededError extends Error {
  constructor(
    readonly entity: string,
    readonly by: string | null,
  ) {
    super(`superseded by ${by ? `run ${by}` : "a newer snapshot"} for ${entity}`);
    this.name = "SupersededError";
  }
}

/** A TRUNCATE of the entity landed above the pass's floor: a chunk read before it must not be written. */
export class TruncatedDuringSnapshotError extends Error {
  constructor(readonly entity: string) {
    super(`${entity} was truncated while its snapshot ran; the pass starts over above the TRUNCATE`);
    this.name = "TruncatedDuringSnapshotError";
  }
}

/**
 * A committed snapshot chunk: the keys after `after` (null: from the first key) up to and including
 * `last`, and what its transaction wrote (contexts, dead letters).
 */
export type ChunkSpan = { after: string[] | null; last: string[]; rows: number; written?: number; dead?: number };

/** What the checkpoint moved over: the rows, contexts and dead letters of chunks now all committed (the pipeline counts rows and dead letters by it). */
export type Moved = { rows: number; written: number; dead: number };

type Frontier = { last_key: string[] | null; rows_done: number; ahead: ChunkSpan[] };

/** Spans kept in `ahead` at most (a bound on the row, never reached by a working window of ≤ 8). */
const AHEAD_KEPT = 64;

/**
 * Where the checkpoint stands once `chunk` is committed: last_key moves over it when it starts
 * where last_key ends, and then over every chunk committed ahead that follows on; otherwise the
 * chunk waits in `ahead` for the gap before it to commit. A crash therefore never resumes past a
 * chunk that is not durable. `moved` counts what is now covered (a chunk is counted once, when the
 * checkpoint moves over it, so a chunk read again after a failure is not counted twice).
 */
export function moveFrontier(at: Frontier, chunk: ChunkSpan): Frontier & { moved: Moved } {
  const ahead = [...at.ahead, chunk];
  let { last_key, rows_done } = at;
  const moved: Moved = { rows: 0, written: 0, dead: 0 };
  for (let i = ahead.findIndex((c) => sameKey(c.after, last_key)); i >= 0; i = ahead.findIndex((c) => sameKey(c.after, last_key))) {
    const [next] = ahead.splice(i, 1);
    last_key = next!.last;
    rows_done += next!.rows;
    moved.rows += next!.rows;
    moved.written += next!.written ?? 0;
    moved.dead += next!.dead ?? 0;
  }
  return { last_key, rows_done, ahead: ahead.slice(-AHEAD_KEPT), moved };
}

function sameKey(a: string[] | null, b: string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * The pass's checkpoint does not stand where its reader ended: chunks the store had committed are
 * gone (the store restarted and lost commits that had not reached its disk), or one never
 * committed. Retried: the pass resumes from what the store holds.
 */
export class CheckpointGapError extends Error {
  readonly category = "TRANSIENT";
  constructor(readonly entity: string) {
    super(`the snapshot of ${entity} read further than its checkpoint reaches (the store lost or refused a chunk); resuming from the checkpoint`);
    this.name = "CheckpointGapError";
  }
}

/**
 * Starts an attempt at the pass: chunks an earlier attempt committed beyond a gap are forgotten
 * (this attempt reads them again from the checkpoint; its chunks may end elsewhere, and a span
 * left over would let the checkpoint jump over rows it never covered). Nothing when the run no
 * longer owns the pass (its first commit will say so).
 */
export async function restartFromCheckpoint(sourceId: string, entity: string, runId: string | null, pass: bigint): Promise<void> {
  await pgPool().query(
    `UPDATE snapshot_checkpoints SET ahead = '[]', updated_at = now()
     WHERE source_id = $1 AND entity = $2 AND run_id IS NOT DISTINCT FROM $3::uuid AND pass = $4 AND NOT done AND ahead <> '[]'`,
    [sourceId, entity, runId, pass.toString()],
  );
}

/**
 * Records a committed chunk of the pass (in the chunk's transaction), or marks the pass done
 * (`done`: the key the reader ended at; the checkpoint must stand exactly there, else
 * CheckpointGapError). Throws SupersededError when the run no longer owns the pass and
 * TruncatedDuringSnapshotError past a TRUNCATE. Returns the source's latest mapping version (the
 * caller refuses a chunk mapped under an older one) and what the checkpoint moved over. The row is
 * locked last in the transaction, after the chunk's contexts: chunks committing at once wait for
 * each other only here.
 */
export async function advanceCheckpoint(
  client: pg.ClientBase,
  sourceId: string,
  entity: string,
  runId: string | null,
  pass: bigint,
  step: { chunk: ChunkSpan } | { done: { last_key: string[] | null } },
): Promise<{ mapping_version: number; moved: Moved }> {
  const { rows } = await client.query<{ last_key: string[] | null; rows_done: string; ahead: ChunkSpan[]; above_floor: boolean }>(
    `SELECT last_key, rows_done::text, ahead, coalesce(truncated_position > floor_position, false) AS above_floor FROM snapshot_checkpoints
     WHERE source_id = $1 AND entity = $2 AND run_id IS NOT DISTINCT FROM $3::uuid AND pass = $4 AND NOT done FOR UPDATE`,
    [sourceId, entity, runId, pass.toString()],
  );
  const at = rows[0];
  if (!at) throw new SupersededError(entity, await passOwner(client, sourceId, entity));
  if (at.above_floor) throw new TruncatedDuringSnapshotError(entity);
  const stored: Frontier = { last_key: at.last_key?.length ? at.last_key : null, rows_done: Number(at.rows_done), ahead: at.ahead };
  const done = "done" in step;
  if (done && (!sameKey(stored.last_key, step.done.last_key) || stored.ahead.length)) throw new CheckpointGapError(entity);
  const next = done ? { ...stored, moved: { rows: 0, written: 0, dead: 0 } } : moveFrontier(stored, step.chunk);
  const r = await client.query<{ mapping_version: number }>(
    `UPDATE snapshot_checkpoints SET last_key = $3, rows_done = $4, ahead = $5::jsonb, done = $6,
       written_done = written_done + $7, dead_done = dead_done + $8, updated_at = now(),
       -- A completed pass of incremental sync is where the next run starts.
       watermark = CASE WHEN $6 AND pass_range IS NOT NULL
         THEN jsonb_build_object('cursor', pass_range->'cursor', 'upper', pass_range->'upper', 'generation', generation, 'key', pass_range->'key',
                                 'since_full', CASE pass_range->>'mode' WHEN 'full' THEN 0 WHEN 'reconcile' THEN coalesce((watermark->>'since_full')::int, 0)
                                                   ELSE coalesce((watermark->>'since_full')::int, 0) + 1 END,
                                 'since_reconcile', CASE WHEN pass_range->>'mode' IN ('full', 'reconcile') THEN 0 ELSE coalesce((watermark->>'since_reconcile')::int, 0) + 1 END)
         ELSE watermark END
     WHERE source_id = $1 AND entity = $2
     RETURNING coalesce((SELECT max(version) FROM mapping_versions WHERE source_id = $1), 0) AS mapping_version`,
    [sourceId, entity, next.last_key, next.rows_done, JSON.stringify(next.ahead), done, done ? 0 : (step.chunk.written ?? 0), next.moved.dead],
  );
  return { mapping_version: r.rows[0]!.mapping_version, moved: next.moved };
}

/**
 * A TRUNCATE the stream applies (in its batch's transaction): a pass in progress of the entity in
 * this generation whose floor is below it starts over (see advanceCheckpoint).
 */
export async function markTruncated(client: pg.ClientBase, sourceId: string, entity: string, generation: number, position: bigint) {
  await client.query(
    `UPDATE snapshot_checkpoints SET truncated_position = greatest(coalesce(truncated_position, 0), $4::numeric)
     WHERE source_id = $1 AND entity = $2 AND generation = $3 AND NOT done AND floor_position < $4::numeric`,
    [sourceId, entity, generation, position.toString()],
  );
}

/** The source's next snapshot pass number (and the store position of a pass of a source without change capture). */
export async function nextPassNumber(sourceId: string): Promise<bigint> {
  const { rows } = await pgPool().query<{ n: string }>("UPDATE sources SET pass_seq = pass_seq + 1 WHERE id = $1 RETURNING pass_seq::text AS n", [sourceId]);
  return BigInt(rows[0]!.n);
}

/** Each entity's incremental sync: its current or last pass's range and where the next run starts. */
export async function incrementalStates(sourceId: string): Promise<{ entity: string; done: boolean; pass_range: PassRange | null; watermark: Watermark | null }[]> {
  const { rows } = await pgPool().query(
    "SELECT entity, done, pass_range, watermark FROM snapshot_checkpoints WHERE source_id = $1 AND (pass_range IS NOT NULL OR watermark IS NOT NULL) ORDER BY entity",
    [sourceId],
  );
  return rows;
}
