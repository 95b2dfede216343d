// Workers signalled as an operator or an orchestrator would, with real processes:
//   - SIGTERM during a snapshot: the worker lets its chunks in flight commit, hands the part over
//     and exits; another worker finishes the run, every row counted once;
//   - SIGTERM during a stream's batches: the worker drains, releases its lease and exits; another
//     worker takes the stream over at once (not after the lease runs out); nothing lost;
//   - SIGSTOP of a stream's owner past its lease: another worker takes the stream over; after
//     SIGCONT the stalled one is refused by the fencing token and stops writing; nothing lost.
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUES } from "../../server/jobs/contracts.ts";
import { adminToken, api, createEditorToken } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase, storeEqualsItems } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";
import { killWorkers, spawnWorker, type WorkerProcess } from "../support/worker-process.ts";
import { repeatUntilStopped } from "../support/workload.ts";

const ROWS = 150_000;
let src: Awaited<ReturnType<typeof createSourceDatabase>>;
let sourceId: string;
let editor: string;

const run = async (id: string) => (await api("GET", `/runs/${id}`, { token: editor })).body;
const status = async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body;
const storeEqualsSource = () => storeEqualsItems(src, "items");
/** The stream's owner among `workers` (its lease names host:pid). */
const ownerOf = async (workers: WorkerProcess[]) => {
  const owner = (await status()).stream.owner as string | null;
  return workers.find((w) => owner?.endsWith(`:${w.pid}`));
};

/** Source writes until stopped: updates spread over the table and, every tenth, an insert of a new id. */
let inserted = 0; // across workloads: each inserts new ids
const workload = () =>
  repeatUntilStopped(async (n) => {
    await src.query(`UPDATE items SET v = v + 1 WHERE id = ${1 + ((n * 7919) % ROWS)}`);
    if (n % 10 === 0) await src.query(`INSERT INTO items VALUES (${ROWS + ++inserted}, ${n})`);
  });

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters"));
  editor = await createEditorToken();
  src = await createSourceDatabase("ecm_worker_signals", `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL); INSERT INTO items SELECT g, g FROM generate_series(1, ${ROWS}) g;`);
  const config = { ...src.config, options: { ...src.config.options, batch_size: 500 } };
  sourceId = (await api("POST", "/sources", { token: adminToken(), body: { name: "signals", config } })).body.id;
  const mapping = { mappings: [{ source: { table: "items" }, target: { context_type: "items" }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }] }] };
  expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping })).status).toBe(200);
});
afterAll(async () => {
  killWorkers(); // first: a stopped one must not outlive a failed test
  await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }).catch(() => {});
});

describe("workers signalled mid-work", () => {
  it("SIGTERM during a snapshot: the part is handed over after its chunks in flight commit, and another worker finishes it, every row once", async () => {
    const first = spawnWorker();
    const runId = (await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id as string;
    await waitFor("a fifth of the rows", async () => (await run(runId)).progress.done >= ROWS / 5, 60_000, 20);
    first.child.kill("SIGTERM");
    expect(await first.exited).toEqual({ code: 0, signal: null });
    // It left before the run was done: the part was handed over (back in the queue at once, not
    // left to the stalled-job check), not finished on the way out.
    const left = await run(runId);
    expect(left.status).toBe("running");
    expect(left.progress.done).toBeLessThan(ROWS);
    const redis = new Redis(process.env.REDIS_URL!);
    const queue = new Queue(QUEUES.snapshots, { connection: redis });
    try {
      expect(await (await queue.getJob(`snapshot-${runId}-part-0`))!.getState()).toMatch(/^(delayed|waiting)$/);
    } finally {
      await queue.close();
      redis.disconnect();
    }
    const second = spawnWorker();
    const done = await waitFor("the run to finish", async () => ((r) => (["succeeded", "failed"].includes(r.status) ? r : undefined))(await run(runId)), 120_000, 200);
    expect(done).toMatchObject({ status: "succeeded", counters: { read: ROWS, retried: 0, dead_lettered: 0 } });
    expect(await storeEqualsSource()).toBe(true);
    second.child.kill("SIGTERM");
    await second.exited;
  }, 240_000);

  it("SIGTERM during a stream's batches: the owner drains and releases its lease, and another worker takes over at once", async () => {
    // A long lease: a worker that did not release it would keep the stream from the next one for a minute.
    const lease = { ECM_STREAM_LEASE_SECONDS: "60" };
    const first = spawnWorker(lease);
    expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } })).status).toBe(202);
    await waitFor("streaming under the first worker", async () => (await status()).state === "streaming" && (await ownerOf([first])) === first, 60_000, 100);
    const writes = workload();
    await waitFor("changes streaming", async () => writes.count > 300, 30_000);
    const second = spawnWorker(lease);
    first.child.kill("SIGTERM");
    expect(await first.exited).toEqual({ code: 0, signal: null });
    await waitFor("the second worker to own the stream, well inside the first one's lease", async () => (await ownerOf([second])) === second, 30_000, 100);
    const atHandover = writes.count;
    await waitFor("changes after the handover", async () => writes.count > atHandover + 300, 30_000);
    await writes.stop();
    await waitFor("the store to equal the source", storeEqualsSource, 60_000, 500);
    expect((await withDb((c) => c.query("SELECT count(*)::int AS n FROM dead_letters"))).rows[0].n).toBe(0);
    second.child.kill("SIGTERM");
    await second.exited;
  }, 240_000);

  it("SIGSTOP of the owner past its lease: another worker takes over, and after SIGCONT the stalled one's writes are refused", async () => {
    const a = spawnWorker();
    const b = spawnWorker();
    // The store holds the table (a snapshot), and the stream runs: both already when run after the tests above.
    const snapshot = (await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id as string;
    await waitFor("the snapshot", async () => (await run(snapshot)).status === "succeeded", 120_000, 200);
    await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } });
    await waitFor("an owner", async () => (await status()).state === "streaming" && (await ownerOf([a, b])), 60_000, 100);
    const writes = workload();
    await waitFor("changes streaming", async () => writes.count > 300, 30_000);
    const stalled = (await ownerOf([a, b]))!;
    const other = stalled === a ? b : a;
    stalled.child.kill("SIGSTOP");
    // Its job's lock (30 s, renewed by the stopped process no more) runs out, and the queue's stalled
    // check (every 30 s; a job is moved at the second check that finds it unlocked) hands the job to
    // the other worker, which takes the lease (4 s, run out too): at most about 90 s.
    await waitFor("the other worker to own the stream", async () => (await ownerOf([a, b])) === other, 150_000, 100);
    const atTakeover = writes.count;
    await waitFor("changes under the new owner", async () => writes.count > atTakeover + 300, 30_000);
    stalled.child.kill("SIGCONT");
    // Awake, it holds a stale fencing token: its next renewal or commit is refused, and it says so.
    await waitFor("the stalled worker to find its lease lost", async () => /lease lost/.test(stalled.output()), 30_000, 100);
    await waitFor("more changes", async () => writes.count > atTakeover + 600, 30_000);
    await writes.stop();
    await waitFor("the store to equal the source", storeEqualsSource, 60_000, 500);
    expect(await ownerOf([a, b])).toBe(other);
    expect((await withDb((c) => c.query("SELECT count(*)::int AS n FROM dead_letters"))).rows[0].n).toBe(0);
  }, 300_000);
});
