// Alerts: CONFIGURATION and FATAL conditions an operator must act on. One open alert per source
// and message (raising the same one again does not pile up); resolved when the stream runs again.
import type pg from "pg";
import { pgPool } from "../db.ts";

export type AlertRow = {
  id: string;
  source_id: string | null;
  run_id: string | null;
  category: string;
  message: string;
  hint: string | null;
  status: "open" | "resolved";
  delivery_attempts: number;
  delivered_at: string | null;
  delivery_error: string | null;
  created_at: string;
  resolved_at: string | null;
};

const ts = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${col}`;
const COLUMNS = `id::text, source_id::text, run_id::text, category, message, hint, status, delivery_attempts, ${ts("delivered_at")}, delivery_error, ${ts("created_at")}, ${ts("resolved_at")}`;

/** Raises an alert unless the same one is already open; returns it when new. `deliver`: due for the webhook now (the outbox). */
export async function raiseAlert(a: { sourceId: string | null; runId?: string | null; category: string; message: string; hint?: string | null; deliver: boolean }): Promise<AlertRow | null> {
  const { rows } = await pgPool().query<AlertRow>(
    `INSERT INTO alerts (id, source_id, run_id, category, message, hint, delivery_next_at)
     SELECT gen_random_uuid(), $1::uuid, $2::uuid, $3, $4, $5, CASE WHEN $6 THEN now() END
     WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE status = 'open' AND source_id IS NOT DISTINCT FROM $1::uuid AND message = $4)
     RETURNING ${COLUMNS}`,
    [a.sourceId, a.runId ?? null, a.category, a.message, a.hint ?? null, a.deliver],
  );
  return rows[0] ?? null;
}

/**
 * Claims up to `limit` alerts due for delivery: their due time moves `claimMs` ahead, so no other
 * worker takes them meanwhile, and one that died mid-delivery leaves them due again after it. The
 * claim (`claimed_until`) is what the attempt's outcome is recorded against.
 */
export async function claimDueDeliveries(limit: number, claimMs: number): Promise<(AlertRow & { claimed_until: string })[]> {
  const { rows } = await pgPool().query<AlertRow & { claimed_until: string }>(
    `UPDATE alerts SET delivery_next_at = clock_timestamp() + make_interval(secs => $2 / 1000.0)
     WHERE id IN (SELECT id FROM alerts WHERE delivery_next_at <= now() ORDER BY delivery_next_at LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING ${COLUMNS}, delivery_next_at::text AS claimed_until`,
    [limit, claimMs],
  );
  return rows;
}

export async function resolveAlerts(sourceId: string) {
  await pgPool().query("UPDATE alerts SET status = 'resolved', resolved_at = now() WHERE source_id = $1 AND status = 'open'", [sourceId]);
}

/** Resolves an alert (null: no such alert); `changed` is false when it was resolved already. Locks it: call inside a transaction. */
export async function resolveAlert(id: string, db: pg.ClientBase | pg.Pool = pgPool()): Promise<(AlertRow & { changed: boolean }) | null> {
  const before = await db.query<{ open: boolean }>("SELECT status = 'open' AS open FROM alerts WHERE id = $1 FOR UPDATE", [id]);
  if (!before.rows[0]) return null;
  const { rows } = await db.query<AlertRow>(`UPDATE alerts SET status = 'resolved', resolved_at = coalesce(resolved_at, now()) WHERE id = $1 RETURNING ${COLUMNS}`, [id]);
  return rows[0] ? { ...rows[0], changed: before.rows[0].open } : null;
}

export async function listAlerts(opts: { status?: string; sourceId?: string; limit: number; before?: [string, string] | null }) {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  if (opts.status) where.push(`status = ${p(opts.status)}`);
  if (opts.sourceId) where.push(`source_id = ${p(opts.sourceId)}::uuid`);
  if (opts.before) where.push(`(created_at, id) < (${p(opts.before[0])}::timestamptz, ${p(opts.before[1])}::uuid)`);
  const { rows } = await pgPool().query<AlertRow>(
    `SELECT ${COLUMNS} FROM alerts ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY alerts.created_at DESC, alerts.id DESC LIMIT ${p(opts.limit)}`,
    params,
  );
  return rows;
}

/**
 * One delivery attempt's outcome, recorded only while its claim stands (an attempt that outlived
 * its claim must not overwrite a later one's): delivered (nothing more due), or failed and due again
 * in `retryInMs`, until 24 hours after the alert was raised (then given up). Times are the store's.
 */
export async function recordDelivery(id: string, claimedUntil: string, outcome: { ok: true } | { ok: false; error: string; retryInMs: number }) {
  await pgPool().query(
    `UPDATE alerts SET delivery_attempts = delivery_attempts + 1,
       delivered_at = CASE WHEN $3 THEN now() ELSE delivered_at END,
       delivery_error = CASE WHEN $3 THEN NULL WHEN created_at < now() - interval '24 hours' THEN 'gave up after 24 h: ' || $4 ELSE $4 END,
       delivery_next_at = CASE WHEN $3 OR created_at < now() - interval '24 hours' THEN NULL ELSE now() + make_interval(secs => $5 / 1000.0) END
     WHERE id = $1 AND delivery_next_at = $2::timestamptz`,
    [id, claimedUntil, outcome.ok, outcome.ok ? null : outcome.error.slice(0, 500), outcome.ok ? 0 : outcome.retryInMs],
  );
}
