// One retry policy for every job kind (worker/retry.ts, docs/errors.md): a TRANSIENT failure is
// retried with the source's backoff from the last checkpoint, for as long as it stays TRANSIENT,
// and the run shows its attempt, its next try and the error meanwhile.
//   - a snapshot run started while the source is unreachable waits and retries (not FATAL);
//   - a snapshot part failing on the store part way resumes from its checkpoint, counted once;
//   - a replay started while the source is unreachable retries the letters still open;
//   - a stopping worker does not wait out a backoff (the job waits in Redis, not in a worker);
//   - a stream failing on its first batch each time backs off further each time.
// The source is reached through a TCP proxy the test takes down; the store fails by a trigger.
process.env.ECM_SUPERVISOR_MS = "300";
process.env.ECM_STREAM_LEASE_SECONDS = "5";

import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reloadEnv } from "../../server/env.ts";
import { QUEUES } from "../../server/jobs/contracts.ts";
import { startWorker } from "../../worker/runtime.ts";
import { adminToken, api, createEditorToken } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase, storeEqualsItems } from "../support/source-db.ts";
import { tcpProxy } from "../support/tcp-proxy.ts";
import { waitFor } from "../support/wait.ts";

let src: Awaited<ReturnType<typeof createSourceDatabase>>;
let sourceId: string;
let editor: string;
let worker: Awaited<ReturnType<typeof startWorker>> | null = null;
let proxy: ReturnType<typeof tcpProxy>;
let redis: Redis;

const ROWS = 200;
const run = async (id: string) => (await api("GET", `/runs/${id}`, { token: editor })).body;
const finished = (id: string, ms = 60_000) => waitFor(`run ${id} to finish`, async () => ((r) => (["succeeded", "failed", "cancelled"].includes(r.status) ? r : undefined))(await run(id)), ms, 100);
const jobState = async (queue: string, jobId: string) => {
  const q = new Queue(queue, { connection: redis });
  try {
    return (await (await q.getJob(jobId))?.getState()) ?? "missing";
  } finally {
    await q.close();
  }
};

/** A store failure the test switches on: contexts of one id are refused with a serialization failure (SQLSTATE 40001, TRANSIENT). */
const storeRefuses = (contextId: string) =>
  withDb((c) =>
    c.query(`CREATE OR REPLACE FUNCTION ecm_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.context_id = '${contextId}' THEN RAISE EXCEPTION 'could not serialize access (test)' USING ERRCODE = '40001'; END IF; RETURN NEW; END $$;
      CREATE OR REPLACE TRIGGER ecm_test_refuse BEFORE INSERT OR UPDATE ON contexts FOR EACH ROW EXECUTE FUNCTION ecm_test_refuse();`),
  );
const storeAccepts = () => withDb((c) => c.query("DROP TRIGGER IF EXISTS ecm_test_refuse ON contexts; DROP FUNCTION IF EXISTS ecm_test_refuse()"));

/** items → context type "items": its id and v, and any more fields given. */
const itemsMapping = (...more: { source: string; target: string; transform?: string }[]) => ({
  mappings: [{ source: { table: "items" }, target: { context_type: "items" }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }, ...more] }],
});

const storeEqualsSource = () => storeEqualsItems(src, "items");

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters, alerts"));
  await storeAccepts();
  redis = new Redis(process.env.REDIS_URL!);
  editor = await createEditorToken();
  src = await createSourceDatabase("ecm_retries", `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, prefs text); INSERT INTO items SELECT g, g, '{}' FROM generate_series(1, ${ROWS}) g;`);
  proxy = tcpProxy({ host: src.config.connection.host, port: src.config.connection.port });
  await proxy.listen();
  const config = {
    ...src.config,
    connection: { ...src.config.connection, host: "127.0.0.1", port: proxy.port },
    // Chunks of 20 rows (a failure part way leaves chunks committed); a short backoff (the test does not wait out 5 minutes).
    options: { ...src.config.options, batch_size: 20, retry: { initial_ms: 300, factor: 2, max_ms: 4000 } },
  };
  // An env:// secret is pointed at a host by an admin.
  const created = await api("POST", "/sources", { token: adminToken(), body: { name: "retries-src", config } });
  expect(created.status).toBe(201);
  sourceId = created.body.id;
  expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: itemsMapping() })).status).toBe(200);
  // A commit per 20-row page (grouped, the 200 rows would be one commit): a refused chunk leaves those before it committed.
  process.env.ECM_SNAPSHOT_COMMIT_ROWS = "20";
  reloadEnv();
  worker = await startWorker();
});
afterAll(async () => {
  await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }).catch(() => {});
  await storeAccepts();
  await worker?.close();
  await proxy?.down();
  redis?.disconnect();
});

describe("one retry policy for every job kind", () => {
  it("retries a snapshot run whose source is unreachable (TRANSIENT, never FATAL), showing its attempts, then succeeds", async () => {
    await proxy.down();
    const started = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} });
    expect(started.status).toBe(202);
    const runId = started.body.run_id as string;
    const retrying = await waitFor("the run to show its third attempt", async () => ((r) => (r.retry.attempt >= 3 ? r : undefined))(await run(runId)), 30_000, 50);
    expect(retrying.status).toBe("running");
    expect(retrying.error).toMatchObject({ category: "TRANSIENT" });
    expect(retrying.retry.next_at).not.toBeNull();
    expect(retrying.counters.retried).toBeGreaterThanOrEqual(2);
    // Between attempts the job waits in the queue's delayed set, not in a worker.
    await waitFor("the job to wait in the delayed set", async () => (await jobState(QUEUES.snapshots, `snapshot-${runId}`)) === "delayed", 10_000, 20);
    await proxy.up();
    const done = await finished(runId);
    expect(done).toMatchObject({ status: "succeeded", error: null, retry: { next_at: null } });
    expect(done.counters.read).toBe(ROWS);
    expect(await storeEqualsSource()).toBe(true);
  }, 90_000);

  it("resumes a snapshot part from its checkpoint after the store refused a chunk, counting every row once", async () => {
    // Row 95 is in the fifth chunk: four chunks commit, then the store refuses the fifth until it is told not to.
    await storeRefuses("95");
    try {
      await src.query("UPDATE items SET v = v + 1000");
      const runId = (await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id as string;
      const retrying = await waitFor("the part to retry three times", async () => ((r) => (r.retry.attempt >= 3 ? r : undefined))(await run(runId)), 30_000, 50);
      expect(retrying).toMatchObject({ status: "running", error: { category: "TRANSIENT" } });
      expect(retrying.error.message).toMatch(/serialize/);
      // The chunks before the refused one are committed and counted; the refused one is not.
      expect(retrying.counters.read).toBeGreaterThanOrEqual(80);
      expect(retrying.counters.read).toBeLessThan(100);
      await storeAccepts();
      const done = await finished(runId);
      expect(done.status).toBe("succeeded");
      // Chunks committed before the failures are not read (or counted) again.
      expect(done.counters.read).toBe(ROWS);
      expect(done.progress.done).toBe(ROWS);
      expect(await storeEqualsSource()).toBe(true);
    } finally {
      await storeAccepts();
    }
  }, 90_000);

  it("retries a replay whose source is unreachable, then replays every letter once", async () => {
    // Dead letters: rows whose prefs are not JSON under a mapping that parses them.
    await src.query("UPDATE items SET prefs = 'not json' WHERE id <= 5");
    const parsing = itemsMapping({ source: "prefs", target: "data.prefs", transform: "json_parse" });
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: parsing })).status).toBe(200);
    const snap = await finished((await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id);
    expect(snap.counters.dead_lettered).toBe(5);
    await src.query("UPDATE items SET prefs = '{\"fixed\": true}' WHERE id <= 5");
    await proxy.down();
    const replay = await api("POST", "/dead-letters/replay", { token: editor, body: { filter: { source_id: sourceId, status: "open" } } });
    expect(replay.status).toBe(202);
    const runId = replay.body.run_id as string;
    const retrying = await waitFor("the replay to retry", async () => ((r) => (r.retry.attempt >= 2 ? r : undefined))(await run(runId)), 30_000, 50);
    expect(retrying).toMatchObject({ status: "running", error: { category: "TRANSIENT" } });
    await proxy.up();
    const done = await finished(runId);
    expect(done).toMatchObject({ status: "succeeded", counters: { read: 5, written: 5, dead_lettered: 0 } });
    const open = await withDb(async (c) => (await c.query("SELECT count(*)::int AS n FROM dead_letters WHERE source_id = $1 AND status = 'open'", [sourceId])).rows[0].n);
    expect(open).toBe(0);
    const fixed = await withDb(async (c) => (await c.query("SELECT data FROM contexts WHERE context_type = 'items' AND context_id = '3'")).rows[0].data);
    expect(fixed.prefs).toEqual({ fixed: true });
  }, 90_000);

  it("lets a stopping worker drain at once while a run waits out its backoff, and another worker takes the next attempt", async () => {
    await proxy.down();
    const runId = (await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id as string;
    await waitFor("the run to retry", async () => (await run(runId)).retry.attempt >= 2, 30_000, 50);
    // Closing waits for the jobs a worker holds: none is held while the run backs off.
    await worker!.close();
    expect(await jobState(QUEUES.snapshots, `snapshot-${runId}`)).toBe("delayed");
    await proxy.up();
    worker = await startWorker();
    expect((await finished(runId)).status).toBe("succeeded");
  }, 90_000);

  it("backs off further each time a stream fails on its first batch (attempts count from a commit, not from the stream opening)", async () => {
    expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } })).status).toBe(202);
    await waitFor("streaming", async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body.state === "streaming");
    await storeRefuses("7");
    try {
      // The stream opens, reads this change, and its first batch fails: every attempt the same way.
      await src.query("UPDATE items SET v = -7 WHERE id = 7");
      const shown = await waitFor(
        "the stream's fourth attempt",
        async () => ((s) => (s.stream.retry?.attempt >= 4 ? s : undefined))((await api("GET", `/sources/${sourceId}/status`, { token: editor })).body),
        30_000,
        50,
      );
      expect(shown.state).toBe("retrying");
      expect(shown.error.category).toBe("TRANSIENT");
    } finally {
      await storeAccepts();
    }
    await waitFor("streaming again", async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body.state === "streaming", 30_000);
    await waitFor("the change after the store accepts it", storeEqualsSource, 30_000);
  }, 90_000);
});
