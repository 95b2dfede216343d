// Alerts: stored for the console and delivered to the configured webhook as JSON with an
// HMAC-SHA256 signature over "<timestamp>.<body>", retried until the receiver accepts it.
import http from "node:http";
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { waitFor } from "../support/wait.ts";

const SECRET = "webhook-secret-for-tests";
const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
let failuresLeft = 1;
let server: http.Server;

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
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

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
});
