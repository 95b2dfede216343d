// Faults a stream meets in production, each with its specified behaviour:
//   per-entity pause/resume while the rest streams (resume re-snapshots what was skipped);
//   the source unreachable for a minute: TRANSIENT retries with the specified backoff, then resume, nothing lost;
//   a half-open connection (nothing crosses, nobody told): noticed within the silence bound, retried, recovered;
//   the slot dropped or lost: FATAL with a clear message and an alert, never a silent new slot;
//     a full re-snapshot recovers;
//   the password changed: CONFIGURATION, the stream stops and alerts.
// The source is reached through a TCP proxy the test can cut, as a network outage would.
process.env.ECM_SUPERVISOR_MS = "300";
process.env.ECM_STREAM_LEASE_SECONDS = "5";

import { isDeepStrictEqual } from "node:util";
import pg from "pg";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { QUEUES, streamJobId } from "../../server/jobs/contracts.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { startWorker } from "../../worker/runtime.ts";
import { api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";
import { tcpProxy } from "../support/tcp-proxy.ts";
import { SILENCE_MS } from "../../server/connectors/postgresql/replication.ts";

const ROLE = "ecm_fault_user";
const PASSWORD = "fault-password-1";
let src: Awaited<ReturnType<typeof createSourceDatabase>>;
let sourceId: string;
let editor: string;
let worker: Awaited<ReturnType<typeof startWorker>> | null = null;
let proxy: ReturnType<typeof tcpProxy>;

const status = async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body;
// The product's slot for this source (pg_replication_slots lists every database's slots).
const slotOf = () => `ecm_slot_${sourceId.replaceAll("-", "")}`;

async function converged(): Promise<boolean> {
  for (const t of ["items", "events"]) {
    const source = Object.fromEntries((await src.query(`SELECT id, v FROM ${t}`)).rows.map((r) => [String(r.id), { v: r.v }]));
    const stored = await withDb(async (c) => Object.fromEntries((await c.query("SELECT context_id, data FROM contexts WHERE context_type = $1 AND NOT deleted", [t])).rows.map((r) => [r.context_id, r.data])));
    if (!isDeepStrictEqual(source, stored)) return false;
  }
  return true;
}
const expectConverged = (what: string, ms = 30_000) => waitFor(what, converged, ms, 200);

async function start() {
  expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } })).status).toBe(202);
  await waitFor("streaming", async () => (await status()).state === "streaming");
}
async function stop() {
  await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } });
  await waitFor("stopped", async () => ["stopped", "failed"].includes((await status()).stream.status));
}
async function snapshot() {
  const r = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} });
  expect(r.status).toBe(202);
  const run = await waitFor("snapshot", async () => {
    const b = (await api("GET", `/runs/${r.body.run_id}`, { token: editor })).body;
    return ["succeeded", "failed"].includes(b.status) ? b : undefined;
  }, 60_000);
  expect(run.status).toBe("succeeded");
}
const openAlerts = async () => (await api("GET", `/alerts?source_id=${sourceId}&status=open`, { token: editor })).body.alerts as { category: string; message: string }[];

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters, alerts"));
  const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
  editor = (await createToken({ name: "e", role: "editor" }, system)).token;
  src = await createSourceDatabase("ecm_stream_faults");
  await src.query(`DO $$ BEGIN CREATE ROLE ${ROLE} LOGIN REPLICATION; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  await src.query(`ALTER ROLE ${ROLE} PASSWORD '${PASSWORD}'`);
  await src.query(`GRANT CREATE ON DATABASE ecm_stream_faults TO ${ROLE}`);
  await src.query(`
    CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
    CREATE TABLE events (id int PRIMARY KEY, v int NOT NULL);
    ALTER TABLE items OWNER TO ${ROLE};
    ALTER TABLE events OWNER TO ${ROLE};
    INSERT INTO items SELECT g, g FROM generate_series(1, 100) g;
    INSERT INTO events SELECT g, g FROM generate_series(1, 100) g;`);
  proxy = tcpProxy({ host: src.config.connection.host, port: src.config.connection.port });
  await proxy.listen();
  const config = {
    ...src.config,
    connection: { ...src.config.connection, host: "127.0.0.1", port: proxy.port },
    authentication: { type: "credentials", username: ROLE, password: PASSWORD },
    // This source's own backoff: half a second first (the operator default is 1 s), at most 16 s,
    // so the stream is back within 16 s of the source (the test does not wait out 5 minutes).
    options: { ...src.config.options, retry: { initial_ms: 500, factor: 2, max_ms: 16_000 } },
  };
  const created = await api("POST", "/sources", { token: editor, body: { name: "faults-src", config } });
  expect(created.status).toBe(201);
  sourceId = created.body.id;
  const mapping = {
    mappings: ["items", "events"].map((t) => ({ source: { table: t }, target: { context_type: t }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }] })),
  };
  expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping })).status).toBe(200);
  worker = await startWorker();
  await snapshot();
  await start();
  await expectConverged("initial state");
});
afterAll(async () => {
  await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }).catch(() => {});
  await worker?.close();
  await proxy?.down();
});

describe("stream faults", () => {
  it("pauses one entity while the other streams, and converges it on resume", async () => {
    expect((await api("POST", `/sources/${sourceId}/stream/entities/events`, { token: editor, body: { action: "pause" } })).status).toBe(202);
    await waitFor("pause visible", async () => (await status()).stream.paused_entities.includes("events"));
    await new Promise((r) => setTimeout(r, 1500)); // the stream reads its controls every second
    await src.query("UPDATE events SET v = v + 1000 WHERE id <= 10; INSERT INTO events VALUES (500, 500); DELETE FROM events WHERE id = 99");
    await src.query("UPDATE items SET v = -v WHERE id <= 5");
    await waitFor("items to stream", async () => (await withDb((c) => c.query("SELECT data FROM contexts WHERE context_type = 'items' AND context_id = '1'"))).rows[0].data.v === -1);
    // The paused entity's changes were not applied.
    expect((await withDb((c) => c.query("SELECT data FROM contexts WHERE context_type = 'events' AND context_id = '1'"))).rows[0].data.v).toBe(1);
    expect((await api("POST", `/sources/${sourceId}/stream/entities/events`, { token: editor, body: { action: "resume" } })).status).toBe(202);
    await expectConverged("the resumed entity to converge (re-snapshot of what was skipped)");
    expect((await status()).stream.paused_entities).toEqual([]);
  });

  it("retries a minute-long outage with exponential backoff, then resumes without losing anything", async () => {
    await proxy.down();
    const down = Date.now();
    const seen = new Map<number, number>(); // attempt → when first observed
    const writer = (async () => {
      for (let i = 0; i < 30; i++) {
        await src.query("INSERT INTO items VALUES ($1, $1)", [10_000 + i]);
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    while (Date.now() - down < 60_000) {
      const s = await status();
      if (s.state === "retrying" && s.stream.retry && !seen.has(s.stream.retry.attempt)) seen.set(s.stream.retry.attempt, Date.now());
      await new Promise((r) => setTimeout(r, 50));
    }
    const shown = await status();
    expect(shown.state).toBe("retrying");
    expect(shown.error.category).toBe("TRANSIENT");
    await proxy.up();
    await writer;
    // Delays between attempts follow the source's backoff: 0.5 s, 1 s, 2 s, 4 s, 8 s (each ±20 %
    // jitter, plus polling slack).
    for (let n = 2; n <= 6; n++) {
      const gap = (seen.get(n)! - seen.get(n - 1)!) / 1000;
      const expected = 0.5 * 2 ** (n - 2);
      expect(gap, `delay before attempt ${n}`).toBeGreaterThanOrEqual(expected * 0.8 - 0.1);
      expect(gap, `delay before attempt ${n}`).toBeLessThanOrEqual(expected * 1.2 + 1);
    }
    await waitFor("streaming again", async () => (await status()).state === "streaming", 40_000, 200);
    // The delays stopped growing at the source's max_ms.
    const last = Math.max(...seen.keys());
    expect((seen.get(last)! - seen.get(last - 1)!) / 1000).toBeLessThanOrEqual(16 * 1.2 + 1);
    await expectConverged("every change made during the outage");
    const run = (await api("GET", `/runs/${(await status()).stream.run_id}`, { token: editor })).body;
    expect(run.counters.retried).toBeGreaterThanOrEqual(5);
  }, 150_000);

  it("notices a half-open connection (nothing crosses for 60 s, no reset) within the silence bound, retries, and recovers", async () => {
    await expectConverged("before the stall");
    proxy.stall();
    const stalledAt = Date.now();
    for (let i = 0; i < 20; i++) await src.query("INSERT INTO items VALUES ($1, $1)", [20_000 + i]);
    // Bound: the replication session's silence limit (45 s: docs/cdc.md), plus a control tick and polling.
    const noticed = await waitFor("the stream to notice the silence", async () => ((await status()).state === "retrying" ? Date.now() : undefined), 90_000, 200);
    expect(noticed - stalledAt).toBeLessThan(SILENCE_MS + 15_000);
    expect((await status()).error.category).toBe("TRANSIENT");
    await new Promise((r) => setTimeout(r, Math.max(0, 60_000 - (Date.now() - stalledAt))));
    proxy.resume();
    await waitFor("streaming again", async () => (await status()).state === "streaming", 60_000, 200);
    await expectConverged("every change made during the stall");
  }, 180_000);

  it("fails FATAL when the slot was dropped, never creating a new one silently; a full re-snapshot recovers", async () => {
    await stop();
    const slotName = slotOf();
    await src.query("SELECT pg_drop_replication_slot($1)", [slotName]);
    await src.query("UPDATE items SET v = 7 WHERE id = 7"); // a change the dropped slot took with it
    expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } })).status).toBe(202);
    const failed = await waitFor("FATAL", async () => {
      const s = await status();
      if (s.state !== "failed") throw new Error(JSON.stringify(s));
      return s;
    });
    expect(failed.error).toMatchObject({ category: "FATAL" });
    expect(failed.error.message).toMatch(/dropped.*re-snapshot/i);
    expect((await src.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [slotName])).rowCount).toBe(0);
    expect((await openAlerts()).some((a) => a.category === "FATAL" && /dropped/.test(a.message))).toBe(true);
    await snapshot();
    await start();
    await src.query("UPDATE items SET v = 8 WHERE id = 8");
    await expectConverged("state after recovery");
  });

  it("fails FATAL when the slot is lost (max_slot_wal_keep_size), and a full re-snapshot recovers", async () => {
    await stop();
    const admin = new pg.Client({ connectionString: process.env.TEST_SERVER_URL });
    await admin.connect();
    try {
      await admin.query("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
      await admin.query("SELECT pg_reload_conf()");
      await src.query("UPDATE items SET v = 9 WHERE id = 9");
      await waitFor("the slot to be lost", async () => {
        await src.query("CREATE TABLE IF NOT EXISTS filler (v text); INSERT INTO filler SELECT md5(g::text) FROM generate_series(1, 50000) g");
        await admin.query("SELECT pg_switch_wal()");
        await admin.query("CHECKPOINT");
        const r = await src.query("SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1", [slotOf()]);
        return r.rows[0]?.wal_status === "lost";
      }, 60_000, 200);
    } finally {
      await admin.query("ALTER SYSTEM RESET max_slot_wal_keep_size");
      await admin.query("SELECT pg_reload_conf()");
      await admin.end();
    }
    expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } })).status).toBe(202);
    const failed = await waitFor("FATAL", async () => ((await status()).state === "failed" ? status() : undefined));
    expect(failed.error).toMatchObject({ category: "FATAL" });
    expect(failed.error.message).toMatch(/lost/);
    await snapshot();
    await start();
    await expectConverged("state after recovering from the lost slot");
  }, 120_000);

  it("puts the stream's job back when Redis lost its data (the supervisor reconciles from PostgreSQL)", async () => {
    const redis = new Redis(process.env.REDIS_URL!);
    try {
      await redis.flushdb();
      const queue = new Queue(QUEUES.streams, { connection: redis });
      await waitFor("the stream job to be queued again", async () => Boolean(await queue.getJob(streamJobId(sourceId))), 15_000);
      await queue.close();
    } finally {
      redis.disconnect();
    }
    await src.query("UPDATE items SET v = 4242 WHERE id = 42");
    await waitFor("streaming under the re-queued job", async () => (await status()).state === "streaming");
    await expectConverged("a change after Redis lost its data");
  });

  it("stops with CONFIGURATION and an alert when the password changes", async () => {
    await src.query(`ALTER ROLE ${ROLE} PASSWORD 'changed-elsewhere'`);
    await src.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [ROLE]);
    const failed = await waitFor("CONFIGURATION", async () => ((await status()).state === "failed" ? status() : undefined), 60_000);
    expect(failed.error.category).toBe("CONFIGURATION");
    expect(failed.error.message).toMatch(/password/);
    expect(failed.stream.enabled).toBe(false);
    expect((await openAlerts()).some((a) => a.category === "CONFIGURATION" && /password/.test(a.message))).toBe(true);
  });
});
