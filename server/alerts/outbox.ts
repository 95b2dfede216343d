// The alert webhook's outbox: an alert raised while a webhook is configured is due for delivery in
// the same statement that stores it (alerts.delivery_next_at), so nothing is lost when a process
// exits. Every worker delivers what is due (on its supervisor tick, and the raising process at
// once): a row is claimed by pushing its due time past a delivery's longest run, so two workers
// do not POST it at the same moment, and one that died mid-delivery leaves it due again after the
// claim. Failures are retried with the spec's backoff (1 s, ×2, at most 5 min) for 24 hours,
// then the alert says delivery gave up (store/alerts.ts recordDelivery). Delivery is at least once: a receiver dedupes by `id`.
import { createHmac } from "node:crypto";
import { env } from "../env.ts";
import { backoffDelay } from "../errors/classify.ts";
import { logger } from "../logger.ts";
import { claimDueDeliveries, recordDelivery, type AlertRow } from "../store/alerts.ts";

const log = logger("alerts.outbox");
const TIMEOUT_MS = 10_000;
/** Longer than a delivery can take (the POST's timeout): a claim outlives its delivery. */
const CLAIM_MS = 2 * TIMEOUT_MS;

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** Delivers every alert whose delivery is due (a batch at a time); returns how many were tried. */
export async function deliverDue(limit = 20): Promise<number> {
  const { ECM_ALERT_WEBHOOK_URL: url, ECM_ALERT_WEBHOOK_SECRET: secret } = env();
  if (!url) return 0;
  const due = await claimDueDeliveries(limit, CLAIM_MS);
  await Promise.all(due.map((row) => deliver(row, url, secret)));
  return due.length;
}

async function deliver(row: AlertRow & { claimed_until: string }, url: string, secret: string | undefined) {
  const body = JSON.stringify({ type: "alert", id: row.id, source_id: row.source_id, run_id: row.run_id, category: row.category, message: row.message, hint: row.hint, created_at: row.created_at });
  const timestamp = String(Math.floor(Date.now() / 1000));
  let error: string | null = null;
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-ecm-timestamp": timestamp, ...(secret ? { "x-ecm-signature": signWebhook(secret, timestamp, body) } : {}) },
      body,
      redirect: "manual", // a webhook answers itself: the alert is not sent on to wherever it points
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (!res.ok) error = `HTTP ${res.status}`;
  } catch (e) {
    error = (e as Error).message;
  }
  if (!error) return recordDelivery(row.id, row.claimed_until, { ok: true });
  const attempt = row.delivery_attempts + 1;
  log.warn({ id: row.id, attempt, error }, "alert delivery failed");
  await recordDelivery(row.id, row.claimed_until, { ok: false, error, retryInMs: backoffDelay(attempt) });
}
