// The one scrape target (GET /api/metrics) and readiness (GET /api/ready), with a real worker
// process doing the work: its counters reach the scrape through Redis, move during a snapshot and
// a stream, and stop being counted when the worker is killed; readiness fails while a stream that
// should run has no owner.
import { spawn, type ChildProcess } from "node:child_process";
import { workerNodeArgs } from "../../worker/build.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { handleMetricsRequest, handleReadyRequest } from "../../server/metrics/scrape.ts";
import { adminToken, api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";

process.env.ECM_METRICS_TOKEN = "metrics-token-0123456789abcdef";
let src: Awaited<ReturnType<typeof createSourceDatabase>>;
let sourceId: string;
let editor: string;
let worker: ChildProcess | null = null;

function spawnWorker(): ChildProcess {
  const child = spawn(process.execPath, workerNodeArgs(), {
    env: { ...process.env, ECM_STREAM_LEASE_SECONDS: "4", ECM_SUPERVISOR_MS: "500", ECM_LOG_LEVEL: "warn" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  return child;
}

async function scrape(token = adminToken()): Promise<{ status: number; text: string }> {
  const res = await handleMetricsRequest(new Request("http://localhost/api/metrics", { headers: token ? { authorization: `Bearer ${token}` } : {} }));
  return { status: res.status, text: await res.text() };
}

/** The value of one series (labels matched as given, in any order), or undefined when absent. */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const have = Object.fromEntries([...(m[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[2]);
  }
  return undefined;
}

const ready = async (token?: string) => {
  const res = await handleReadyRequest(new Request("http://localhost/api/ready", { headers: token ? { authorization: `Bearer ${token}` } : {} }));
  return { status: res.status, body: await res.json() };
};

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters"));
  const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
  editor = (await createToken({ name: "metrics-editor", role: "editor" }, system)).token;
  src = await createSourceDatabase(
    "ecm_metrics_src",
    `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, doc text);
     INSERT INTO items SELECT g, g, CASE WHEN g % 100 = 0 THEN 'not json' ELSE '{"n": ' || g || '}' END FROM generate_series(1, 3000) g;`,
  );
  sourceId = (await api("POST", "/sources", { token: adminToken(), body: { name: "metrics-src", config: { ...src.config, options: { batch_size: 500, change_tracking: "cdc" } } } })).body.id;
  const mapping = { mappings: [{ source: { table: "items" }, target: { context_type: "metric-item" }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }, { source: "doc", target: "data.doc", transform: "json_parse" }] }] };
  expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping })).status).toBe(200);
  worker = spawnWorker();
}, 120_000);

afterAll(async () => {
  await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }).catch(() => {});
  worker?.kill("SIGKILL");
});

describe("GET /api/metrics", () => {
  it("needs a token: an API token of any role, or ECM_METRICS_TOKEN", async () => {
    expect((await scrape("")).status).toBe(401);
    expect((await scrape("not-a-token")).status).toBe(401);
    expect((await scrape(process.env.ECM_METRICS_TOKEN)).status).toBe(200);
    const viewer = (await createToken({ name: "metrics-viewer", role: "viewer" }, { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" })).token;
    const scraped = await scrape(viewer);
    expect(scraped.status).toBe(200);
    expect(scraped.text).toContain("# TYPE ecm_rows_read_total counter");
  });

  it("counts a snapshot in the worker that ran it: rows read and written, dead letters, commits, jobs", async () => {
    const runId = (await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id;
    await waitFor("the snapshot to succeed", async () => (await api("GET", `/runs/${runId}`, { token: editor })).body.status === "succeeded", 60_000, 200);
    const labels = { source_id: sourceId, entity: "items", kind: "snapshot" };
    // Published with the worker's next heartbeat.
    const text = await waitFor("the worker's counters in the scrape", async () => {
      const t = (await scrape()).text;
      return value(t, "ecm_rows_read_total", labels) === 3000 ? t : undefined;
    }, 20_000, 500);
    expect(value(text, "ecm_contexts_written_total", labels)).toBe(2970);
    expect(value(text, "ecm_dead_letters_total", { source_id: sourceId, entity: "items", category: "DATA", kind: "snapshot" })).toBe(30);
    // Six pages of 500 rows, committed in chunks of several (ECM_SNAPSHOT_COMMIT_ROWS): one at least.
    expect(value(text, "ecm_commit_seconds_count", { kind: "snapshot" })).toBeGreaterThanOrEqual(1);
    expect(value(text, "ecm_batch_seconds_count", { kind: "snapshot" })).toBeGreaterThanOrEqual(6);
    expect(value(text, "ecm_job_seconds_count", { queue: "ecm-snapshots", job: "snapshot.entity", outcome: "completed" })).toBeGreaterThanOrEqual(1);
    // This file's one worker; a worker another file killed just before is gone from the scrape
    // within 15 s of its last heartbeat.
    await waitFor("this file's worker alone alive", async () => (value((await scrape()).text, "ecm_workers_alive") === 1 ? true : undefined), 30_000, 500);
    expect(value(text, "ecm_dead_letters_open", { source_id: sourceId })).toBe(30);
    expect(value(text, "ecm_queue_jobs", { queue: "ecm-snapshots", state: "active" })).toBe(0);
  }, 90_000);

  it("follows a stream: changes read move, the owner and lag are shown, and readiness holds", async () => {
    expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } })).status).toBe(202);
    await waitFor("the stream to run", async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body.state === "streaming", 60_000);
    const labels = { source_id: sourceId, entity: "items", kind: "stream" };
    const read = async () => value((await scrape()).text, "ecm_rows_read_total", labels) ?? 0;
    await src.query("UPDATE items SET v = v + 1 WHERE id <= 200");
    const first = await waitFor("streamed changes counted", async () => ((await read()) >= 200 ? read() : undefined), 30_000, 500);
    await src.query("UPDATE items SET v = v + 1 WHERE id <= 300");
    await waitFor("the count to move", async () => (await read()) >= first + 300, 30_000, 500);
    const text = await waitFor("the capture observed", async () => {
      const t = (await scrape()).text;
      return value(t, "ecm_stream_lag_bytes", { source_id: sourceId }) !== undefined ? t : undefined;
    }, 20_000, 500);
    expect(value(text, "ecm_stream_running", { source_id: sourceId })).toBe(1);
    expect(text).toMatch(new RegExp(`ecm_stream_owner\\{source_id="${sourceId}",worker="[^"]+:${worker!.pid}"\\} 1`));
    expect(value(text, "ecm_capture_retained_bytes", { source_id: sourceId })).toBeGreaterThanOrEqual(0);
    expect(value(text, "ecm_commit_seconds_count", { kind: "stream" })).toBeGreaterThan(0);
    expect(await ready()).toEqual({ status: 200, body: { status: "ready" } });
  }, 120_000);

  it("stops counting a killed worker, and is not ready while its stream has no owner", async () => {
    worker!.kill("SIGKILL");
    await new Promise((r) => worker!.once("exit", r));
    const down = await waitFor("readiness to fail", async () => {
      const r = await ready(adminToken());
      return r.status === 503 ? r.body : undefined;
    }, 30_000, 500);
    expect(down).toMatchObject({ status: "not_ready", streams_without_owner: [sourceId] });
    expect((await ready()).body).toEqual({ status: "not_ready" }); // no detail without a token
    const gone = await waitFor("the dead worker's counters to go", async () => {
      const t = (await scrape()).text;
      return value(t, "ecm_workers_alive") === 0 && value(t, "ecm_rows_read_total", { source_id: sourceId, entity: "items", kind: "stream" }) === undefined ? t : undefined;
    }, 30_000, 1000);
    expect(value(gone, "ecm_stream_running", { source_id: sourceId })).toBe(0);
    // A new worker takes the stream over: ready again.
    worker = spawnWorker();
    await waitFor("ready again", async () => (await ready()).status === 200, 120_000, 1000);
  }, 180_000);
});
