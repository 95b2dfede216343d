// A snapshot run end to end: the API queues it, a real worker (BullMQ on the test Redis) takes it,
// progress and counters are recorded, and the store ends equal to the source under the mapping.
import { Redis } from "ioredis";
import { Queue } from "bullmq";
import { QUEUES } from "../../server/jobs/contracts.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { pgPool } from "../../server/db.ts";
import { startWorker } from "../../worker/runtime.ts";
import { reconcileRuns } from "../../worker/supervisor.ts";
import { closeSnapshotRun } from "../../server/store/runs.ts";
import { api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { registerDemoSource } from "../support/demo.ts";
import { SPEC_EXAMPLE_MAPPING } from "../support/spec-mapping.ts";

let sourceId: string;
let editor: string;
let viewer: string;
let password: string;
let worker: Awaited<ReturnType<typeof startWorker>>;

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs"));
  const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
  editor = (await createToken({ name: "e", role: "editor" }, system)).token;
  viewer = (await createToken({ name: "v", role: "viewer" }, system)).token;
  ({ sourceId, password } = await registerDemoSource("demo-run", editor));
  worker = await startWorker();
});
afterAll(async () => {
  await worker?.close();
});

async function waitForRun(runId: string) {
  for (let i = 0; i < 240; i++) {
    const r = await api("GET", `/runs/${runId}`, { token: viewer });
    if (["succeeded", "failed", "cancelled"].includes(r.body.status)) return r.body;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error("run did not finish");
}

describe("snapshot runs", () => {
  it("refuses a snapshot before a mapping exists, and to viewers", async () => {
    const r = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} });
    expect(r.status).toBe(400);
    expect(r.body.error.category).toBe("CONFIGURATION");
    expect((await api("POST", `/sources/${sourceId}/snapshot`, { token: viewer, body: {} })).status).toBe(403);
  });

  it("runs in a worker, records progress and counters, and fills the store", async () => {
    const mapping = SPEC_EXAMPLE_MAPPING;
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping })).status).toBe(200);
    const queued = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} });
    expect(queued.status).toBe(202);

    // The job in Redis carries ids only: never the source's password.
    const redis = new Redis(process.env.REDIS_URL!);
    const keys = await redis.keys("bull:ecm-snapshots:*");
    for (const k of keys) if ((await redis.type(k)) === "hash") expect(JSON.stringify(await redis.hgetall(k))).not.toContain(password);
    redis.disconnect();

    const run = await waitForRun(queued.body.run_id);
    expect(run).toMatchObject({
      kind: "snapshot",
      status: "succeeded",
      mapping_version: 1,
      counters: { read: 2000, written: 1980, dead_lettered: 20, collisions: 0 },
      progress: { done: 2000, total: 2000 },
      error: null,
    });
    expect((await api("GET", `/sources/${sourceId}`, { token: viewer })).body.status).toBe("idle");
    const stored = Number((await pgPool().query("SELECT count(*) FROM contexts WHERE context_type = 'customer-context' AND source_id = $1", [sourceId])).rows[0].count);
    expect(stored).toBe(1980);
    const listed = await api("GET", `/runs?source_id=${sourceId}`, { token: viewer });
    expect(listed.body.runs.map((r: { id: string }) => r.id)).toContain(queued.body.run_id);
  });

  it("fans a run out into one job per entity, which any worker may take, and closes it when all are done", async () => {
    const second = await startWorker(); // a second worker on the same queues takes parts too
    try {
      const table = (t: string, key: string) => ({ source: { table: t }, target: { context_type: `fan-${t}` }, fields: [{ source: key, target: "context_id" }] });
      expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: { mappings: [table("customers", "customer_id"), table("products", "product_id"), table("orders", "order_id")] } })).status).toBe(200);
      const queued = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} });
      const run = await waitForRun(queued.body.run_id);
      const rows = (t: string) => pgPool().query(`SELECT count(*)::int AS n FROM contexts WHERE context_type = $1 AND source_id = $2`, [`fan-${t}`, sourceId]);
      const counts = await Promise.all(["customers", "products", "orders"].map(async (t) => (await rows(t)).rows[0].n as number));
      expect(run).toMatchObject({ status: "succeeded", counters: { read: counts[0]! + counts[1]! + counts[2]!, written: counts[0]! + counts[1]! + counts[2]!, dead_lettered: 0 } });
      expect(counts.every((n) => n > 0)).toBe(true);
      const redis = new Redis(process.env.REDIS_URL!);
      const queue = new Queue(QUEUES.snapshots, { connection: redis });
      const parts = await Promise.all([0, 1, 2].map((i) => queue.getJob(`snapshot-${run.id}-part-${i}`)));
      expect(parts.map((p) => p?.name)).toEqual(["snapshot.entity", "snapshot.entity", "snapshot.entity"]);
      expect(parts.map((p) => p?.returnvalue.entity).sort()).toEqual(["customers", "orders", "products"]);
      expect(await (await queue.getJob(`snapshot-finish-${run.id}`))?.getState()).toBe("completed");
      await queue.close();
      redis.disconnect();
    } finally {
      await second.close();
    }
  });

  it("records a failure with its category when the source cannot be read", async () => {
    // The source's database is gone (its stored password moves with it: it is bound to the connection).
    await withDb(async (c) => {
      await c.query("UPDATE sources SET config = jsonb_set(config, '{connection,database}', '\"no_such_db\"') WHERE id = $1", [sourceId]);
      await c.query("UPDATE secrets SET binding = jsonb_set(binding, '{database}', '\"no_such_db\"')");
    });
    const queued = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} });
    const run = await waitForRun(queued.body.run_id);
    expect(run.status).toBe("failed");
    expect(run.error).toMatchObject({ category: "CONFIGURATION", message: expect.stringMatching(/no_such_db/) });
    expect((await api("GET", `/sources/${sourceId}`, { token: viewer })).body).toMatchObject({ status: "failed", last_error: expect.stringMatching(/no_such_db/) });
  });
});

describe("runs whose jobs are gone", () => {
  it("are closed as failed by the supervisor; runs with a live job, or too young to judge, are left alone", async () => {
    const insertRun = async (kind: string, ageSeconds: number) =>
      withDb(async (c) => (await c.query("INSERT INTO runs (id, source_id, kind, status, created_at) VALUES (gen_random_uuid(), $1, $2, 'running', now() - make_interval(secs => $3)) RETURNING id", [sourceId, kind, ageSeconds])).rows[0].id as string);
    const lost = await insertRun("replay", 120); // no job anywhere (a flushed Redis, a dead worker)
    const lostSnapshot = await insertRun("snapshot", 120);
    await withDb((c) => c.query("UPDATE sources SET state = 'snapshotting', last_error = NULL WHERE id = $1", [sourceId]));
    const young = await insertRun("snapshot", 5); // its job may still be on its way
    const waiting = await insertRun("replay", 120);
    const redis = new Redis(process.env.REDIS_URL!);
    const replays = new Queue(QUEUES.replays, { connection: redis });
    await replays.add("dead_letters.replay", { run_id: waiting, ids: [] }, { jobId: `replay-${waiting}`, delay: 600_000 });
    try {
      const closed = await reconcileRuns(60_000); // (the in-process worker's supervisor may have closed it first)
      expect(closed).not.toContain(young);
      expect(closed).not.toContain(waiting);
      const status = async (id: string) => (await api("GET", `/runs/${id}`, { token: viewer })).body;
      expect(await status(lost)).toMatchObject({ status: "failed", error: { category: "TRANSIENT", message: expect.stringMatching(/job was lost/) } });
      // A lost snapshot run fails its source with it (one transaction: never a failed run beside a source still snapshotting).
      expect(await status(lostSnapshot)).toMatchObject({ status: "failed", error: { category: "TRANSIENT" } });
      expect((await api("GET", `/sources/${sourceId}`, { token: viewer })).body).toMatchObject({ status: "failed", last_error: expect.stringMatching(/^snapshot its job was lost/) });
      expect((await status(young)).status).toBe("running");
      expect((await status(waiting)).status).toBe("running");
      expect(await reconcileRuns(60_000)).not.toContain(lost); // closed once
    } finally {
      await (await replays.getJob(`replay-${waiting}`))?.remove();
      await withDb((c) => c.query("UPDATE runs SET status = 'cancelled' WHERE id = ANY($1::uuid[])", [[young, waiting]]));
      await replays.close();
      redis.disconnect();
    }
  });
});

describe("closing a snapshot run", () => {
  it("leaves its source snapshotting while another of its snapshot runs is going, and idle after the last", async () => {
    const insertRun = async () =>
      withDb(async (c) => (await c.query("INSERT INTO runs (id, source_id, kind, status) VALUES (gen_random_uuid(), $1, 'snapshot', 'running') RETURNING id", [sourceId])).rows[0].id as string);
    const [first, second] = [await insertRun(), await insertRun()];
    await withDb((c) => c.query("UPDATE sources SET state = 'snapshotting', last_error = NULL WHERE id = $1", [sourceId]));
    const state = async () => (await api("GET", `/sources/${sourceId}`, { token: viewer })).body.status;
    await closeSnapshotRun(first, sourceId, { status: "succeeded" });
    expect(await state()).toBe("snapshotting");
    await closeSnapshotRun(second, sourceId, { status: "cancelled", error: "superseded" });
    expect(await state()).toBe("idle");
  });
});
