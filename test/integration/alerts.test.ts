// Alerts: stored for the console and delivered to the configured webhook as JSON with an
// HMAC-SHA256 signature over "<timestamp>.<body>", retried until the receiver accepts it, from an
// outbox in PostgreSQL: an alert raised by a process that exits at once is still delivered.
process.env.ECM_SUPERVISOR_MS = "300";

import { spawn } from "node:child_process";
import http from "node:http";
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { waitFor } from "../support/wait.ts";
import { startWorker } from "../../worker/runtime.ts";

const SECRET = "webhook-secret-for-tests";
const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
let failuresLeft = 1;
let server: http.Server;
let worker: Awaited<ReturnType<typeof startWorker>> | null = null;

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE alerts"));
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.statusCode = failuresLeft-- > 0 ? 503 : 204; // the first delivery fails: it must be retried
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  process.env.ECM_ALERT_WEBHOOK_URL = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  process.env.ECM_ALERT_WEBHOOK_SECRET = SECRET;
  worker = await startWorker(); // delivers what is due from the outbox
});
afterAll(async () => {
  await worker?.close();
  await new Promise<void>((r) => server.close(() => r()));
});

describe("alerts", () => {
  it("are listed for viewers, delivered signed to the webhook, retried after a failure, and raised once while open", async () => {
    const { alert } = await import("../../server/alerts/service.ts");
    const first = await alert({ sourceId: null, category: "FATAL", message: "replication slot lost: re-snapshot", hint: "re-snapshot" });
    expect(first).not.toBeNull();
    expect(await alert({ sourceId: null, category: "FATAL", message: "replication slot lost: re-snapshot" })).toBeNull();

    await waitFor("delivery after a retry", async () => {
      const rows = (await api("GET", "/alerts", { token: process.env.ECM_API_TOKEN })).body.alerts;
      return rows[0]?.delivered_at ? rows : undefined;
    }, 15_000);
    expect(received).toHaveLength(2);
    for (const r of received) {
      const ts = r.headers["x-ecm-timestamp"] as string;
      const expected = `sha256=${createHmac("sha256", SECRET).update(`${ts}.${r.body}`).digest("hex")}`;
      expect(r.headers["x-ecm-signature"]).toBe(expected);
      expect(JSON.parse(r.body)).toMatchObject({ type: "alert", id: first!.id, category: "FATAL", message: "replication slot lost: re-snapshot" });
    }
    const listed = (await api("GET", "/alerts?status=open", { token: process.env.ECM_API_TOKEN })).body.alerts;
    expect(listed).toEqual([expect.objectContaining({ id: first!.id, delivery_attempts: 2, delivery_error: null, status: "open" })]);
    const resolved = await api("POST", `/alerts/${first!.id}/resolve`, { token: process.env.ECM_API_TOKEN });
    expect(resolved.body.status).toBe("resolved");
    expect((await api("GET", "/alerts?status=open", { token: process.env.ECM_API_TOKEN })).body.alerts).toEqual([]);
  });

  it("delivers an alert raised by a process that exited before the webhook answered (the outbox survives it)", async () => {
    // The receiver refuses connections while the raising process lives and exits.
    const url = new URL(process.env.ECM_ALERT_WEBHOOK_URL!);
    await new Promise<void>((r) => server.close(() => r()));
    const message = `store full (raised at ${Date.now()})`;
    const child = spawn(process.execPath, ["--import", "tsx", "test/support/children/raise-alert.ts", message], { env: process.env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    expect(await new Promise((r) => child.on("exit", r))).toBe(0);
    const id = out.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // Nothing delivered, and still due: the failure is on the alert, with its next attempt.
    const pending = await withDb(async (c) => (await c.query("SELECT delivered_at, delivery_next_at FROM alerts WHERE id = $1", [id])).rows[0]);
    expect(pending.delivered_at).toBeNull();
    expect(pending.delivery_next_at).not.toBeNull();
    const before = received.length;
    await new Promise<void>((r) => server.listen(Number(url.port), "127.0.0.1", r));
    const delivered = await waitFor("the outbox to deliver the exited process's alert", async () => {
      const rows = (await api("GET", "/alerts?status=open", { token: process.env.ECM_API_TOKEN })).body.alerts as { id: string; delivered_at: string | null; delivery_attempts: number }[];
      return rows.find((a) => a.id === id && a.delivered_at);
    }, 45_000, 100); // the exited process may have claimed it: due again after the claim (20 s)
    expect(delivered.delivery_attempts).toBeGreaterThanOrEqual(1);
    const bodies = received.slice(before).map((r) => JSON.parse(r.body));
    expect(bodies.filter((b) => b.id === id)).toHaveLength(1);
    expect(bodies.find((b) => b.id === id)).toMatchObject({ type: "alert", category: "FATAL", message });
    expect((await withDb((c) => c.query("SELECT delivery_next_at FROM alerts WHERE id = $1", [id]))).rows[0].delivery_next_at).toBeNull();
  }, 90_000);
});
