// Scale-out (issue #25): two web processes and three worker processes share the work, and two
// workers are killed (kill -9) while a snapshot of several tables and a stream run. Every part
// finishes once (each table's pass done once, by this run; the run counts every row read and
// written exactly once; each part's job completed), the stream has one owner at a time (every
// change of owner takes a newer fencing token, the durable cursor never moves back) and ends with
// the surviving worker, and the store equals the source row by row. The API is called through
// both web processes in turn, as a load balancer would.
import { spawn, type ChildProcess } from "node:child_process";
import { isDeepStrictEqual } from "node:util";
import { Queue, type Job } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseLsnCursor } from "../../server/connectors/postgresql/lsn.ts";
import { QUEUES } from "../../server/jobs/contracts.ts";
import { adminToken, createEditorToken } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";
import { repeatUntilStopped } from "../support/workload.ts";
import { killWorkers, spawnWorker, type WorkerProcess } from "../support/worker-process.ts";

const TABLES = ["t1", "t2", "t3", "t4"] as const;
const ROWS = 40_000; // per table
const LIVE_ROWS = 1000;

let src: Awaited<ReturnType<typeof createSourceDatabase>>;
const webs: { child: ChildProcess; url: string }[] = [];
let workers: WorkerProcess[] = [];
let editor: string;
let sourceId: string;
let turn = 0;

/** The public API over HTTP, each call to the next web process in turn. */
async function api(method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
  const web = webs[turn++ % webs.length]!;
  const res = await fetch(`${web.url}/api/v1${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${opts.token ?? editor}` },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** This run's snapshot part jobs (one per table), as BullMQ holds them. */
async function partJobs<T>(runId: string, fn: (jobs: (Job | undefined)[]) => Promise<T>): Promise<T> {
  const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUES.snapshots, { connection: redis });
  try {
    return await fn(await Promise.all(TABLES.map((_, i) => queue.getJob(`snapshot-${runId}-part-${i}`))));
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/** The workers (host:pid) holding this run's snapshot parts that are running now. */
const partHolders = (runId: string) =>
  partJobs(runId, async (jobs) => {
    const active = await Promise.all(jobs.map(async (j) => (j && (await j.getState()) === "active" ? j.processedBy : undefined)));
    return active.filter((id): id is string => !!id);
  });

function startWeb(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/support/children/api-server.ts"], { env: { ...process.env, ECM_LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.once("exit", (code) => reject(new Error(`web process exited (${code}) before listening: ${out}`)));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const port = out.match(/\{"port":(\d+)\}/)?.[1];
      if (port) resolve({ child, url: `http://127.0.0.1:${port}` });
    });
  });
}

const mapping = (tables: readonly string[]) => ({
  mappings: tables.map((t) => ({ source: { table: t }, target: { context_type: t }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }] })),
});

async function tableEqual(table: string): Promise<boolean> {
  const rows = Object.fromEntries((await src.query(`SELECT id, v FROM ${table}`)).rows.map((r) => [String(r.id), r.v]));
  const stored = await withDb(async (c) => Object.fromEntries((await c.query("SELECT context_id, data->'v' AS v FROM contexts WHERE source_id = $1 AND context_type = $2 AND NOT deleted", [sourceId, table])).rows.map((r) => [r.context_id, r.v])));
  return isDeepStrictEqual(rows, stored);
}

/** The stream's row in the store, sampled: who holds the lease, with which fencing token, and the durable cursor. */
function sampleOwnership() {
  let on = true;
  const seen: { owner: string | null; token: bigint; cursor: string | null }[] = [];
  const violations: string[] = [];
  const done = (async () => {
    while (on) {
      const row = (await withDb((c) => c.query("SELECT lease_owner, lease_token::text AS token, cursor FROM streams WHERE source_id = $1", [sourceId]))).rows[0];
      if (row) {
        const now = { owner: row.lease_owner as string | null, token: BigInt(row.token), cursor: row.cursor as string | null };
        const last = seen.at(-1);
        if (last) {
          if (now.token < last.token) violations.push(`fencing token went back: ${last.token} → ${now.token}`);
          if (now.owner && last.owner && now.owner !== last.owner && now.token === last.token) violations.push(`${last.owner} and ${now.owner} held the same token ${now.token}`);
          if (now.cursor && last.cursor && parseLsnCursor(now.cursor) < parseLsnCursor(last.cursor)) violations.push(`cursor went back: ${last.cursor} → ${now.cursor}`);
        }
        if (!last || last.owner !== now.owner || last.token !== now.token) seen.push(now);
        else last.cursor = now.cursor;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  done.catch(() => {}); // reported by stop()
  return { seen, violations, stop: async () => ((on = false), await done) };
}

beforeAll(async () => {
  await resetMetadata();
  src = await createSourceDatabase(
    "scaleout",
    TABLES.map((t) => `CREATE TABLE ${t} (id int PRIMARY KEY, v text NOT NULL); INSERT INTO ${t} SELECT g, md5(g::text) FROM generate_series(1, ${ROWS}) g;`).join("\n") +
      `CREATE TABLE live (id int PRIMARY KEY, v text NOT NULL); INSERT INTO live SELECT g, 'v' || g FROM generate_series(1, ${LIVE_ROWS}) g;`,
  );
  editor = await createEditorToken();
  // Both kept whatever happens to either, so afterAll stops what started.
  const started = await Promise.allSettled([startWeb(), startWeb()]);
  for (const s of started) if (s.status === "fulfilled") webs.push(s.value);
  for (const s of started) if (s.status === "rejected") throw s.reason;
  workers = [spawnWorker(), spawnWorker(), spawnWorker()];
}, 120_000);

afterAll(async () => {
  killWorkers();
  for (const w of webs) w.child.kill("SIGKILL");
});

describe("two web processes and three workers", () => {
  it("lose two workers (kill -9) mid-snapshot and mid-stream: every part finishes once, the stream keeps one owner, the store equals the source", async () => {
    const created = await api("POST", "/sources", { token: adminToken(), body: { name: "scale-out", config: src.config } });
    expect(created.status).toBe(201);
    sourceId = created.body.id;
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { body: mapping(["live"]) })).status).toBe(200);
    const first = (await api("POST", `/sources/${sourceId}/snapshot`, { body: {} })).body.run_id as string;
    await waitFor("the live table's snapshot", async () => (await api("GET", `/runs/${first}`)).body.status === "succeeded", 60_000, 200);
    expect((await api("POST", `/sources/${sourceId}/stream`, { body: { action: "start" } })).status).toBe(202);
    await waitFor("streaming", async () => (await api("GET", `/sources/${sourceId}/status`)).body.state === "streaming", 60_000, 200);

    const ownership = sampleOwnership();
    const writes = repeatUntilStopped((n) => src.query(`BEGIN; UPDATE live SET v = 'w${n}' WHERE id = ${1 + (n * 7919) % LIVE_ROWS}; INSERT INTO live VALUES (${LIVE_ROWS + n}, 'new${n}'); COMMIT;`));

    // Four more tables mapped and snapshotted (a part each) while the stream runs.
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { body: mapping(["live", ...TABLES]) })).status).toBe(200);
    const runId = (await api("POST", `/sources/${sourceId}/snapshot`, { body: { entities: [...TABLES] } })).body.run_id as string;
    const progressed = (share: number) => waitFor(`${share * 100} % of the snapshot`, async () => ((r) => r.status !== "running" && r.status !== "queued" ? true : r.progress.done >= share * ROWS * TABLES.length)((await api("GET", `/runs/${runId}`)).body), 120_000, 50);

    // The first victim is the stream's owner (so the stream must change hands), the second any other.
    await progressed(0.15);
    const owner = (await api("GET", `/sources/${sourceId}/status`)).body.stream.owner as string;
    const first_victim = workers.find((w) => owner.endsWith(`:${w.pid}`))!;
    expect(first_victim).toBeDefined();
    const heldAtFirst = await partHolders(runId);
    first_victim.child.kill("SIGKILL");
    await progressed(0.4);
    // The second: one of the others holding a snapshot part now, if any does (a job records the
    // worker that took it), chosen at random.
    const rest = workers.filter((w) => w !== first_victim);
    const holding = await partHolders(runId);
    const candidates = rest.filter((w) => holding.some((id) => id.endsWith(`:${w.pid}`)));
    const pool = candidates.length ? candidates : rest;
    const second_victim = pool[Math.floor(Math.random() * pool.length)]!;
    second_victim.child.kill("SIGKILL");
    const writesAtKills = writes.count;
    const survivor = rest.find((w) => w !== second_victim)!;
    // A kill landed on a worker holding a running part (else the parts would not have changed hands).
    const killedAPart = heldAtFirst.some((id) => id.endsWith(`:${first_victim.pid}`)) || candidates.includes(second_victim);
    expect(killedAPart).toBe(true);

    const done = await waitFor("the run to finish", async () => ((r) => (["succeeded", "failed", "cancelled"].includes(r.status) ? r : undefined))((await api("GET", `/runs/${runId}`)).body), 240_000, 500);
    await waitFor("writes after the kills", async () => writes.count > writesAtKills + 300, 60_000);
    await writes.stop();
    for (const t of ["live", ...TABLES]) await waitFor(`${t} in the store to equal the source`, () => tableEqual(t), 120_000, 500);
    await ownership.stop();

    // Every part finished once: each row read and written once (counted in the chunk's own
    // transaction), each table's pass done by this run, each part's job completed.
    expect(done.status).toBe("succeeded");
    expect(done.counters).toMatchObject({ read: ROWS * TABLES.length, written: ROWS * TABLES.length, dead_lettered: 0 });
    const passes = (await withDb((c) => c.query("SELECT entity, run_id, done FROM snapshot_checkpoints WHERE source_id = $1 AND entity = ANY($2) ORDER BY entity", [sourceId, [...TABLES]]))).rows;
    expect(passes).toEqual(TABLES.map((entity) => ({ entity, run_id: runId, done: true })));
    const states = await partJobs(runId, (jobs) => Promise.all(jobs.map((j) => j?.getState())));
    expect(states).toEqual(TABLES.map(() => "completed"));

    // One owner at a time, and at the end the survivor.
    expect(ownership.violations).toEqual([]);
    const owners = [...new Set(ownership.seen.map((s) => s.owner).filter(Boolean))];
    expect(owners.length).toBeGreaterThanOrEqual(2); // the owner was killed: the stream changed hands
    const status = (await api("GET", `/sources/${sourceId}/status`)).body;
    expect(status.state).toBe("streaming");
    expect(status.stream.owner).toBe(`${owners.at(-1)}`);
    expect(status.stream.owner.endsWith(`:${survivor.pid}`)).toBe(true);
    console.log(`scale-out: killed ${first_victim.pid} (the stream's owner) and ${second_victim.pid} (${candidates.length ? "holding a snapshot part" : "no other worker held a part"}); owners in turn: ${owners.join(" → ")}; ${writes.count} source transactions`);
  }, 420_000);
});
