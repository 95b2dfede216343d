// The servers around the product fail, and the promise holds (store = source, row by row):
//   - the source crashes (immediate shutdown, as `pg_ctl -m immediate`) mid-snapshot and restarts:
//     the run retries and resumes from its checkpoint, every row counted once;
//   - the source crashes mid-stream under a write workload and restarts: the stream retries and
//     converges;
//   - the product's own store crashes for 30 s mid-stream: /api/ready says the store is unreachable,
//     the worker backs off and retries, and afterwards nothing is lost or dead-lettered.
// Each server is this file's own embedded PostgreSQL (the shared test server must not go away).
process.env.ECM_SUPERVISOR_MS = "300";
process.env.ECM_STREAM_LEASE_SECONDS = "5";

import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../scripts/lib/embedded-postgres.ts";
import { applyMigrations } from "../../server/db/migrations.ts";
import { reloadEnv } from "../../server/env.ts";
import { handleReadyRequest } from "../../server/metrics/scrape.ts";
import { startWorker } from "../../worker/runtime.ts";
import { adminToken, api, createEditorToken } from "../support/http.ts";
import { queryOnce as query, serverSourceConfig } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";
import { repeatUntilStopped } from "../support/workload.ts";

// Ports below Linux's ephemeral range (32768–60999): a server restarted on its port mid-test must
// not find it taken by some client connection's local end.
const SOURCE = { dir: path.resolve(".data/test/pg-faults-source"), port: 25343, password: "faults-source-pw" };
const STORE = { dir: path.resolve(".data/test/pg-faults-store"), port: 25344, password: "faults-store-pw" };
const ROWS = 60_000;

let source: EmbeddedPostgres;
let store: EmbeddedPostgres;
let sourceId: string;
let editor: string;
let worker: Awaited<ReturnType<typeof startWorker>> | null = null;

const src = (sql: string, params?: unknown[]) => query(source.url("faults"), sql, params);
const db = (sql: string, params?: unknown[]) => query(store.url("ecm_faults"), sql, params);

async function storeEqualsSource(): Promise<boolean> {
  const rows = Object.fromEntries((await src("SELECT id, v FROM items")).rows.map((r) => [String(r.id), r.v]));
  const stored = Object.fromEntries((await db("SELECT context_id, (data->>'v')::int AS v FROM contexts WHERE context_type = 'items' AND NOT deleted")).rows.map((r) => [r.context_id, r.v]));
  return isDeepStrictEqual(rows, stored);
}
const run = async (id: string) => (await api("GET", `/runs/${id}`, { token: editor })).body;

/** Writes to the source until stopped: an update and an upsert per transaction. */
const workload = () =>
  repeatUntilStopped((n) => src(`BEGIN; UPDATE items SET v = v + 1 WHERE id = ${(n * 7919) % ROWS}; INSERT INTO items VALUES (${ROWS + (n % 500)}, 0) ON CONFLICT (id) DO UPDATE SET v = items.v - 1; COMMIT;`));

beforeAll(async () => {
  // One after the other, each kept as it starts: afterAll stops whatever did.
  source = await startEmbeddedPostgres(SOURCE);
  store = await startEmbeddedPostgres(STORE);
  await query(source.url(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = 'faults'");
  await query(source.url(), "DROP DATABASE IF EXISTS faults WITH (FORCE)");
  await query(source.url(), "CREATE DATABASE faults");
  await src(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL); INSERT INTO items SELECT g, g FROM generate_series(1, ${ROWS}) g`);
  await query(store.url(), "DROP DATABASE IF EXISTS ecm_faults WITH (FORCE)");
  await query(store.url(), "CREATE DATABASE ecm_faults");
  // This file's product runs on its own store (nothing in it has read DATABASE_URL yet).
  process.env.DATABASE_URL = store.url("ecm_faults");
  reloadEnv();
  await applyMigrations(process.env.DATABASE_URL);
  editor = await createEditorToken();
  const config = serverSourceConfig({ ...SOURCE, database: "faults", secretEnv: "ECM_SOURCE_FAULTS_PW", options: { retry: { initial_ms: 300, factor: 2, max_ms: 3000 } } });
  const created = await api("POST", "/sources", { token: adminToken(), body: { name: "faults", config } });
  expect(created.status).toBe(201);
  sourceId = created.body.id;
  const mapping = { mappings: [{ source: { table: "items" }, target: { context_type: "items" }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }] }] };
  expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping })).status).toBe(200);
  worker = await startWorker();
}, 180_000);

afterAll(async () => {
  await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }).catch(() => {});
  await worker?.close();
  await Promise.all([source?.stop(), store?.stop()]);
});

describe("the servers around the product fail", () => {
  it("resumes a snapshot from its checkpoint after the source crashed mid-way, every row counted once", async () => {
    const runId = (await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id as string;
    await waitFor("a fifth of the rows", async () => (await run(runId)).progress.done >= ROWS / 5, 60_000, 20);
    await source.crash();
    await new Promise((r) => setTimeout(r, 1500));
    source = await startEmbeddedPostgres(SOURCE);
    const done = await waitFor("the run to finish", async () => ((r) => (["succeeded", "failed"].includes(r.status) ? r : undefined))(await run(runId)), 120_000, 200);
    expect(done.status).toBe("succeeded");
    expect(done.counters.retried).toBeGreaterThanOrEqual(1);
    expect(done.counters.read).toBe(ROWS);
    expect(await storeEqualsSource()).toBe(true);
  }, 180_000);

  it("converges after the source crashed mid-stream under a write workload", async () => {
    expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } })).status).toBe(202);
    await waitFor("streaming", async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body.state === "streaming", 30_000);
    const writes = workload();
    await waitFor("some changes streamed", async () => writes.count > 200, 30_000);
    await source.crash();
    await new Promise((r) => setTimeout(r, 1500));
    source = await startEmbeddedPostgres(SOURCE);
    await waitFor("changes after the restart", async () => writes.count > 600, 60_000);
    await writes.stop();
    await waitFor("the store to equal the source", storeEqualsSource, 90_000, 500);
    const status = (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body;
    expect(status.state).toBe("streaming");
  }, 180_000);

  it("rides out its own store crashing for 30 s mid-stream: ready says so, the worker retries, nothing lost or dead-lettered", async () => {
    const writes = workload();
    await waitFor("some changes streamed", async () => writes.count > 200, 30_000);
    await store.crash();
    const down = Date.now();
    const ready = await handleReadyRequest(new Request("http://localhost/api/ready", { headers: { authorization: `Bearer ${adminToken()}` } }));
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: "not_ready" });
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - down))));
    store = await startEmbeddedPostgres(STORE);
    const writtenWhileDown = writes.count;
    await waitFor("changes after the store is back", async () => writes.count > writtenWhileDown + 200, 60_000);
    await writes.stop();
    await waitFor("the store to equal the source", storeEqualsSource, 120_000, 500);
    await waitFor("ready again", async () => (await handleReadyRequest(new Request("http://localhost/api/ready"))).status === 200, 30_000, 500);
    const status = (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body;
    expect(status.state).toBe("streaming");
    const streamRun = await run(status.stream.run_id);
    expect(streamRun.counters.retried).toBeGreaterThanOrEqual(1);
    expect((await db("SELECT count(*)::int AS n FROM dead_letters")).rows[0].n).toBe(0);
  }, 240_000);
});
