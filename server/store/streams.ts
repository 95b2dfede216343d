// Change streams in the product database: desired state, durable cursor, and the lease that makes
// one worker the owner. The lease token is a fencing token: it grows on every acquisition, and
// every write an owner makes (batch commit, renewal, status) names it, so a worker that lost its
// lease (paused, partitioned, presumed dead) has its writes refused instead of interleaved.
import type pg from "pg";
import { pgPool } from "../db.ts";
import { CONTEXT_WRITING_RUN } from "./runs.ts";

export type StreamRow = {
  source_id: string;
  enabled: boolean;
  cursor: string | null;
  cursor_updated_at: string | null;
  batch_size: number;
  include_operations: ("insert" | "update" | "delete")[];
  run_id: string | null;
  lease_owner: string | null;
  lease_token: string;
  lease_expires_at: string | null;
  status: "stopped" | "starting" | "streaming" | "retrying" | "paused" | "failed";
  error: string | null;
  error_category: string | null;
  retry_attempt: number;
  next_retry_at: string | null;
  paused_entities: string[];
  skipped_entities: string[];
  schema_policy: "continue" | "pause";
  known_schemas: Record<string, string[]>;
  pending_schema: { entity: string; added: string[]; removed: string[]; columns?: string[] } | null;
  slot_state: SlotState | Record<string, never>;
  last_commit_at: string | null;
  generation: number;
  capture_server: string | null;
  capture_start: string | null;
  capture_broken: string | null;
};

/**
 * The capture as its stream's owner last observed it: its name on the source, its state and the
 * position the source was told is durable. Rows observed before these names hold PostgreSQL's
 * (`wal_status`, `confirmed_flush_lsn`) instead.
 */
export type SlotState = {
  name?: string;
  state?: string | null;
  position?: string | null;
  wal_status?: string | null;
  confirmed_flush_lsn?: string | null;
  exists: boolean;
  active: boolean | null;
  retained_bytes: number | null;
  lag_bytes: number | null;
  lag_seconds: number | null;
  observed_at: string;
};

const ts = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${col}`;
const COLUMNS = `source_id::text, enabled, cursor, ${ts("cursor_updated_at")}, batch_size, include_operations, run_id::text, lease_owner,
  lease_token::text, ${ts("lease_expires_at")}, status, error, error_category, retry_attempt, ${ts("next_retry_at")}, paused_entities, skipped_entities,
  schema_policy, known_schemas, pending_schema, slot_state, ${ts("last_commit_at")}, generation, capture_server, capture_start, capture_broken`;

export async function getStream(sourceId: string, client: pg.ClientBase | pg.Pool = pgPool()): Promise<StreamRow | null> {
  const { rows } = await client.query<StreamRow>(`SELECT ${COLUMNS} FROM streams WHERE source_id = $1`, [sourceId]);
  return rows[0] ?? null;
}

export async function getStreams(sourceIds: string[]): Promise<StreamRow[]> {
  if (!sourceIds.length) return [];
  const { rows } = await pgPool().query<StreamRow>(`SELECT ${COLUMNS} FROM streams WHERE source_id = ANY($1::uuid[])`, [sourceIds]);
  return rows;
}

/** The stream row, created (stopped, no cursor) on first use. */
export async function ensureStream(sourceId: string): Promise<StreamRow> {
  await pgPool().query("INSERT INTO streams (source_id) VALUES ($1) ON CONFLICT DO NOTHING", [sourceId]);
  return (await getStream(sourceId))!;
}

export async function updateStream(sourceId: string, set: Record<string, unknown>, client: pg.ClientBase | pg.Pool = pgPool()) {
  const cols = Object.keys(set);
  if (!cols.length) return;
  // Column names come from this module's callers (fixed literals), values are bound.
  await client.query(
    `UPDATE streams SET ${cols.map((c, i) => `${c} = $${i + 2}`).join(", ")}, updated_at = now() WHERE source_id = $1`,
    [sourceId, ...cols.map((c) => set[c])],
  );
}

/**
 * Takes the lease when it is free, expired, or already ours; returns the new fencing token or
 * null when another live owner holds it.
 */
export async function acquireLease(sourceId: string, owner: string, ttlSeconds: number): Promise<bigint | null> {
  const { rows } = await pgPool().query<{ lease_token: string }>(
    `UPDATE streams SET lease_owner = $2, lease_token = lease_token + 1, lease_expires_at = now() + make_interval(secs => $3), updated_at = now()
     WHERE source_id = $1 AND (lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at < now() OR lease_owner = $2)
     RETURNING lease_token::text`,
    [sourceId, owner, ttlSeconds],
  );
  return rows[0] ? BigInt(rows[0].lease_token) : null;
}

/** What the owner checks every second: the operator's switches and the mapping version in force. */
/**
 * `others_writing`: a snapshot or replay of the source is queued or running (its chunks write the
 * stream's contexts too: the stream then keeps one batch in flight, pipeline/stream/ordered-commits.ts).
 */
export type StreamControls = { enabled: boolean; paused_entities: string[]; mapping_version: number; others_writing: boolean };

/**
 * Extends the lease and returns the controls in the same statement; null when the lease was
 * taken over (the caller must stop at once).
 */
export async function renewLease(sourceId: string, token: bigint, ttlSeconds: number): Promise<StreamControls | null> {
  const { rows } = await pgPool().query<StreamControls>(
    `UPDATE streams SET lease_expires_at = now() + make_interval(secs => $3) WHERE source_id = $1 AND lease_token = $2
     RETURNING enabled, paused_entities, coalesce((SELECT max(version) FROM mapping_versions WHERE source_id = $1), 0) AS mapping_version,
       EXISTS (SELECT 1 FROM runs WHERE runs.source_id = $1 AND ${CONTEXT_WRITING_RUN}) AS others_writing`,
    [sourceId, token.toString(), ttlSeconds],
  );
  return rows[0] ?? null;
}

/** Whether a live worker holds the stream's lease. */
export function leaseHeld(s: Pick<StreamRow, "lease_owner" | "lease_expires_at">): boolean {
  return s.lease_owner !== null && s.lease_expires_at !== null && Date.parse(s.lease_expires_at) > Date.now();
}

export async function releaseLease(sourceId: string, token: bigint) {
  await pgPool().query("UPDATE streams SET lease_owner = NULL, lease_expires_at = NULL WHERE source_id = $1 AND lease_token = $2", [sourceId, token.toString()]);
}

/** A status update from the owner; ignored (false) when the token is stale. */
export async function ownerUpdate(sourceId: string, token: bigint, set: Record<string, unknown>, client: pg.ClientBase | pg.Pool = pgPool()): Promise<boolean> {
  const cols = Object.keys(set);
  const r = await client.query(
    `UPDATE streams SET ${cols.map((c, i) => `${c} = $${i + 3}`).join(", ")}, updated_at = now() WHERE source_id = $1 AND lease_token = $2`,
    [sourceId, token.toString(), ...cols.map((c) => set[c])],
  );
  return r.rowCount === 1;
}

export class LeaseLostError extends Error {
  constructor(sourceId: string) {
    super(`stream of source ${sourceId} is owned by another worker now (lease taken over); this worker stops writing`);
    this.name = "LeaseLostError";
  }
}

/**
 * Moves the durable cursor inside the caller's transaction (the one that wrote the batch's
 * contexts), recording which entities the batch skipped as paused and the columns its changes were
 * judged against (with the changes they judged, never ahead of them). Throws LeaseLostError when the
 * token is stale, so the whole batch rolls back. Returns the source's mapping version as of this
 * statement: a batch decoded under an older one must roll back instead of committing (it may have
 * skipped changes of a table the new mapping maps).
 */
export async function commitCursor(
  client: pg.ClientBase,
  sourceId: string,
  token: bigint,
  cursor: string | null,
  lastCommitAt: Date | null,
  skippedEntities: string[],
  knownSchemas: Record<string, string[]> | null = null,
): Promise<number> {
  const r = await client.query<{ mapping_version: number }>(
    `UPDATE streams SET cursor = coalesce($3, cursor), cursor_updated_at = CASE WHEN $3::text IS NULL THEN cursor_updated_at ELSE now() END,
       last_commit_at = coalesce($4, last_commit_at), skipped_entities = $5::text[], known_schemas = coalesce($6::jsonb, known_schemas), updated_at = now()
     WHERE source_id = $1 AND lease_token = $2
     RETURNING coalesce((SELECT max(version) FROM mapping_versions WHERE source_id = $1), 0) AS mapping_version`,
    [sourceId, token.toString(), cursor, lastCommitAt, skippedEntities, knownSchemas === null ? null : JSON.stringify(knownSchemas)],
  );
  if (r.rowCount !== 1) throw new LeaseLostError(sourceId);
  return r.rows[0]!.mapping_version;
}

/** A stream batch was decoded under a mapping that is no longer the source's latest. */
export class MappingChangedError extends Error {
  constructor(
    sourceId: string,
    readonly from: number,
    readonly to: number,
  ) {
    super(`the mapping of source ${sourceId} changed (version ${from} → ${to}) while a batch was decoded; it is re-read under the new one`);
    this.name = "MappingChangedError";
  }
}

/**
 * A new capture generation (docs/lifecycle.md): the capture was created or replaced on `server`,
 * delivering every commit from `start`. The old cursor means nothing any more and is cleared,
 * fenced like every stream write: the lease token moves on, so an owner still streaming the old
 * capture has its next batch refused. A stream that failed because its capture broke is wanted
 * again (it starts from the new capture). Returns the new generation and whether to queue the stream.
 */
export async function beginGeneration(
  client: pg.ClientBase | pg.Pool,
  sourceId: string,
  capture: { server: string | null; start: string | null },
  options: { fence: boolean } = { fence: true },
): Promise<{ generation: number; restart: boolean }> {
  const { rows } = await client.query<{ generation: number; restart: boolean }>(
    `UPDATE streams s SET generation = s.generation + 1, capture_server = $2, capture_start = $3, capture_broken = NULL,
       cursor = NULL, cursor_updated_at = now(), pending_schema = NULL, skipped_entities = '{}', lease_token = s.lease_token + $4::int,
       status = CASE WHEN s.capture_broken IS NULL THEN s.status WHEN s.enabled THEN 'starting' ELSE 'stopped' END,
       error = CASE WHEN s.capture_broken IS NOT NULL THEN NULL ELSE s.error END,
       error_category = CASE WHEN s.capture_broken IS NOT NULL THEN NULL ELSE s.error_category END, updated_at = now()
     FROM (SELECT capture_broken FROM streams WHERE source_id = $1 FOR UPDATE) before
     WHERE s.source_id = $1
     RETURNING s.generation, (before.capture_broken IS NOT NULL AND s.enabled) AS restart`,
    [sourceId, capture.server, capture.start, options.fence ? 1 : 0],
  );
  return rows[0]!;
}

/** A capture made before generations were recorded (an upgrade) is taken as this generation's. */
export async function adoptCapture(client: pg.ClientBase | pg.Pool, sourceId: string, capture: { server: string; start: string | null }) {
  await client.query("UPDATE streams SET capture_server = $2, capture_start = coalesce(capture_start, $3), updated_at = now() WHERE source_id = $1 AND capture_server IS NULL", [
    sourceId,
    capture.server,
    capture.start,
  ]);
}

/**
 * The capture can no longer deliver what the store needs: the source is failed with `reason`
 * until a full snapshot starts a new generation. The operator's wish (enabled) is kept, so the
 * stream starts again by itself once the new capture is made.
 */
export async function markCaptureBroken(client: pg.ClientBase | pg.Pool, sourceId: string, generation: number, reason: string) {
  await client.query("UPDATE streams SET capture_broken = $3, status = 'failed', error = $3, error_category = 'FATAL', updated_at = now() WHERE source_id = $1 AND generation = $2", [
    sourceId,
    generation,
    reason,
  ]);
}

export async function enabledStreams(): Promise<{ source_id: string }[]> {
  // A paused stream waits for an operator (schema approval); it is not restarted behind their back.
  const { rows } = await pgPool().query<{ source_id: string }>("SELECT source_id::text FROM streams WHERE enabled AND status NOT IN ('paused', 'failed')");
  return rows;
}
