// An incremental pass whose worker is killed with SIGKILL part way resumes, in another worker
// process, at its checkpoint (the last (cursor, key) committed with its contexts), with the bounds
// it started with: every moved row is read exactly once by the run's count, none is missed, and
// the store ends equal to the source.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminToken, api, createEditorToken } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";
import { killWorkers, spawnWorker } from "../support/worker-process.ts";

const ROWS = 60_000;
let src: Awaited<ReturnType<typeof createSourceDatabase>>;
let sourceId: string;
let editor: string;

const env = { ECM_INCREMENTAL_LAG_MARGIN_SECONDS: "1" };
const digest = async () => (await src.query("SELECT count(*)::int AS n, md5(string_agg(id || ':' || v, ',' ORDER BY id)) AS d FROM t")).rows[0];
const storeDigest = () =>
  withDb(async (c) => (await c.query("SELECT count(*)::int AS n, md5(string_agg(context_id || ':' || (data->>'v'), ',' ORDER BY context_id::int)) AS d FROM contexts WHERE context_type = 't' AND NOT deleted")).rows[0]);

async function run(body: object = {}) {
  const id = (await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body })).body.run_id as string;
  return { id, finished: () => waitFor("the run", async () => ((r) => (["succeeded", "failed", "cancelled"].includes(r.status) ? r : undefined))((await api("GET", `/runs/${id}`, { token: editor })).body), 180_000, 250) };
}

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters"));
  editor = await createEditorToken();
  src = await createSourceDatabase(
    "ecm_incremental_kill",
    `CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, updated_at timestamptz NOT NULL);
     CREATE INDEX ON t (updated_at);
     INSERT INTO t SELECT g, g, now() - interval '1 day' FROM generate_series(1, ${ROWS}) g;`,
  );
  const config = { ...src.config, options: { batch_size: 500, change_tracking: "incremental", incremental: { lookback_seconds: 0 } } };
  sourceId = (await api("POST", "/sources", { token: adminToken(), body: { name: "incremental-kill", config } })).body.id;
  const mapping = { mappings: [{ source: { table: "t", cursor: ["updated_at"] }, target: { context_type: "t" }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }] }] };
  expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping })).status).toBe(200);
}, 120_000);

afterAll(() => killWorkers());

describe("an incremental pass killed part way", () => {
  it("resumes at its checkpoint with its bounds in another worker: every moved row counted once, the store equal to the source", async () => {
    const first = spawnWorker(env);
    expect((await (await run()).finished()).status).toBe("succeeded"); // the first run is a full pass

    // Every row moves, with three distinct cursor values (ties across many pages).
    await src.query("UPDATE t SET v = v + 1, updated_at = now() - (id % 3) * interval '1 millisecond'");
    await new Promise((r) => setTimeout(r, 1500));
    const second = await run();
    // Killed once its pass has committed part of the range (its checkpoint moved), not all of it.
    const atKill = await waitFor(
      "part of the pass committed",
      async () => {
        const k = (await withDb((c) => c.query("SELECT rows_done::int AS n, pass_range FROM snapshot_checkpoints WHERE source_id = $1", [sourceId]))).rows[0];
        return k?.pass_range?.mode === "incremental" && k.n >= 5_000 ? k : undefined;
      },
      60_000,
      20,
    );
    first.child.kill("SIGKILL");
    await first.exited;
    expect(atKill.n).toBeLessThan(ROWS);

    spawnWorker(env);
    const done = await second.finished();
    expect(done.status).toBe("succeeded");
    expect(done.counters.read).toBe(ROWS); // read once each by the checkpoint's count, across both workers
    const after = (await withDb((c) => c.query("SELECT pass_range FROM snapshot_checkpoints WHERE source_id = $1", [sourceId]))).rows[0].pass_range;
    expect(after).toEqual(atKill.pass_range); // the same bounds after the crash
    expect(await storeDigest()).toEqual(await digest());
  }, 300_000);
});
