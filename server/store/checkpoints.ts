// Snapshot checkpoints: written in the same transaction as the chunk's contexts.
import type pg from "pg";
import { pgPool } from "../db.ts";

export type Checkpoint = { last_key: string[] | null; rows_done: number; done: boolean; floor_cursor: string | null };

export async function loadCheckpoint(sourceId: string, entity: string): Promise<Checkpoint | null> {
  const { rows } = await pgPool().query<{ last_key: string[] | null; rows_done: string; done: boolean; floor_cursor: string | null }>(
    "SELECT last_key, rows_done::text, done, floor_cursor FROM snapshot_checkpoints WHERE source_id = $1 AND entity = $2",
    [sourceId, entity],
  );
  const r = rows[0];
  return r ? { last_key: r.last_key && r.last_key.length ? r.last_key : null, rows_done: Number(r.rows_done), done: r.done, floor_cursor: r.floor_cursor } : null;
}

export async function saveCheckpoint(client: pg.ClientBase | pg.Pool, sourceId: string, entity: string, lastKey: string[] | null, rowsDone: number, done = false, floorCursor: string | null = null) {
  await client.query(
    `INSERT INTO snapshot_checkpoints (source_id, entity, last_key, rows_done, done, floor_cursor, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (source_id, entity) DO UPDATE SET last_key = coalesce(EXCLUDED.last_key, snapshot_checkpoints.last_key),
       rows_done = EXCLUDED.rows_done, done = EXCLUDED.done, floor_cursor = coalesce(EXCLUDED.floor_cursor, snapshot_checkpoints.floor_cursor), updated_at = now()`,
    [sourceId, entity, lastKey, rowsDone, done, floorCursor],
  );
}

export async function resetCheckpoint(sourceId: string, entity: string) {
  await pgPool().query("DELETE FROM snapshot_checkpoints WHERE source_id = $1 AND entity = $2", [sourceId, entity]);
}
