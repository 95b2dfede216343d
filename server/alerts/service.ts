// Raising alerts: stored (the console's alerts page), logged, and when a webhook is configured,
// queued in the same statement for delivery (alerts/outbox.ts: POSTed as JSON signed with
// HMAC-SHA256 over "<timestamp>.<body>", retried with backoff, surviving a process exit). Alert
// text never holds secrets: it is built from error messages the product writes (a source's
// password is never part of one; docs/security.md).
import { env } from "../env.ts";
import { logger } from "../logger.ts";
import { raiseAlert, resolveAlerts } from "../store/alerts.ts";
import { deliverDue } from "./outbox.ts";

const log = logger("alerts");

export async function alert(a: { sourceId: string | null; runId?: string | null; category: "CONFIGURATION" | "FATAL"; message: string; hint?: string | null }) {
  const row = await raiseAlert({ ...a, deliver: Boolean(env().ECM_ALERT_WEBHOOK_URL) });
  if (!row) return null; // already open
  log.warn({ source_id: a.sourceId, category: a.category, message: a.message }, "alert raised");
  // At once from here; if this process exits first, a worker's supervisor tick delivers it.
  void deliverDue().catch((error) => log.error({ id: row.id, error }, "alert delivery failed"));
  return row;
}

export const clearAlerts = resolveAlerts;
