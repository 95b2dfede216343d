// Raising alerts: stored (the console's alerts page), logged, and when a webhook is configured,
// POSTed to it as JSON signed with HMAC-SHA256 over "<timestamp>.<body>" (so a receiver can
// reject forgeries and replays), retried with backoff. Alert text never holds secrets: it is
// built from error messages the product writes, and redacted like logs.
import { createHmac } from "node:crypto";
import { env } from "../env.ts";
import { logger } from "../logger.ts";
import { raiseAlert, recordDelivery, resolveAlerts, type AlertRow } from "../store/alerts.ts";

const log = logger("alerts");
const DELIVERY_DELAYS_MS = [0, 1000, 4000, 15_000, 60_000];

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export async function alert(a: { sourceId: string | null; runId?: string | null; category: "CONFIGURATION" | "FATAL"; message: string; hint?: string | null }) {
  const row = await raiseAlert(a);
  if (!row) return null; // already open
  log.warn({ source_id: a.sourceId, category: a.category, message: a.message }, "alert raised");
  void deliver(row).catch((error) => log.error({ id: row.id, error }, "alert delivery failed"));
  return row;
}

export const clearAlerts = resolveAlerts;

async function deliver(row: AlertRow, delays = DELIVERY_DELAYS_MS): Promise<void> {
  const { ECM_ALERT_WEBHOOK_URL: url, ECM_ALERT_WEBHOOK_SECRET: secret } = env();
  if (!url) return;
  const body = JSON.stringify({ type: "alert", id: row.id, source_id: row.source_id, run_id: row.run_id, category: row.category, message: row.message, hint: row.hint, created_at: row.created_at });
  for (const delay of delays) {
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const timestamp = String(Math.floor(Date.now() / 1000));
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-ecm-timestamp": timestamp, ...(secret ? { "x-ecm-signature": signWebhook(secret, timestamp, body) } : {}) },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      if (res.ok) {
        await recordDelivery(row.id, true, null);
        return;
      }
      await recordDelivery(row.id, false, `HTTP ${res.status}`);
    } catch (e) {
      await recordDelivery(row.id, false, (e as Error).message);
    }
  }
}
