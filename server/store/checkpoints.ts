// Snapshot checkpoints: written in the same transaction as the chunk's contexts.
import type pg from "pg";
import { pgPool } from "../db.ts";

export type Checkpoint = { last_key: string[] | null; rows_done: number; done: boolean; snapshot_lsn: string | null };

export async function loadCheckpoint(sourceId: string, entity: string): Promise<Checkpoint | null> {
  const { rows } = await pgPool().query<{ last_key: string[] | null; rows_done: string; done: boolean; snapshot_lsn: string | null }>(
    "SELECT last_key, rows_done::text, done, snapshot_lsn FROM snapshot_checkpoints WHERE source_id = $1 AND entity = $2",
    [sourceId, entity],
  );
  const r = rows[0];
  return r ? { last_key: r.last_key && r.last_key.length ? r.last_key : null, rows_done: Number(r.rows_done), done: r.done, snapshot_lsn: r.snapshot_lsn } : null;
}

export async function saveCheckpoint(client: pg.ClientBase | pg.Pool, sourceId: string, entity: string, lastKey: string[] | null, rowsDone: number, done = false, snapshotLsn: string | null = null) {
  await client.query(
    `INSERT INTO snapshot_checkpoints (source_id, entity, last_key, rows_done, done, snapshot_lsn, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (source_id, entity) DO UPDATE SET last_key = coalesce(EXCLUDED.last_key, snapshot_checkpoints.last_key),
       rows_done = EXCLUDED.rows_done, done = EXCLUDED.done, snapshot_lsn = coalesce(EXCLUDED.snapshot_lsn, snapshot_checkpoints.snapshot_lsn), updated_at = now()`,
    [sourceId, entity, lastKey, rowsDone, done, snapshotLsn],
  );
}

export async function resetCheckpoint(sourceId: string, entity: string) {
  await pgPool().query("DELETE FROM snapshot_checkpoints WHERE source_id = $1 AND entity = $2", [sourceId, entity]);
}
