// A snapshot commits its pages in chunks of several (docs/lifecycle.md, "Chunks"); a chunk that
// is not full yet is still committed:
//   - a quarter of a second after its first page, while the source is quiet (the next page awaited);
//   - before the error, when the source fails part way (what was read is good: a retry goes on after it).
// The source is reached through a TCP proxy the test stalls and takes down after the third page.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSnapshot } from "../../server/pipeline/snapshot.ts";
import { createRun } from "../../server/store/runs.ts";
import { adminToken, api, createEditorToken } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase, storeEqualsItems } from "../support/source-db.ts";
import { tcpProxy } from "../support/tcp-proxy.ts";
import { waitFor } from "../support/wait.ts";

const ROWS = 1000;
const PAGE = 20;
let src: Awaited<ReturnType<typeof createSourceDatabase>>;
let proxy: ReturnType<typeof tcpProxy>;
let sourceId: string;

const checkpoint = async () => (await withDb((c) => c.query("SELECT rows_done::int AS rows, done FROM snapshot_checkpoints WHERE source_id = $1 AND entity = 'items'", [sourceId]))).rows[0] as { rows: number; done: boolean } | undefined;
const newRun = async () => (await createRun({ sourceId, kind: "snapshot", request: {}, createdBy: "test" })).id;

const storeEqualsSource = () => storeEqualsItems(src, "chunk-items");

beforeAll(async () => {
  await resetMetadata();
  src = await createSourceDatabase("ecm_snapshot_chunks", `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL); INSERT INTO items SELECT g, g FROM generate_series(1, ${ROWS}) g;`);
  proxy = tcpProxy({ host: src.config.connection.host, port: src.config.connection.port });
  await proxy.listen();
  const config = { ...src.config, connection: { ...src.config.connection, host: "127.0.0.1", port: proxy.port }, options: { ...src.config.options, batch_size: PAGE, change_tracking: "snapshot" } };
  const created = await api("POST", "/sources", { token: adminToken(), body: { name: "snapshot-chunks", config } });
  expect(created.status).toBe(201);
  sourceId = created.body.id;
  const mapping = { mappings: [{ source: { table: "items" }, target: { context_type: "chunk-items" }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }] }] };
  expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: await createEditorToken(), body: mapping })).status).toBe(200);
});

afterAll(async () => {
  proxy?.resume();
  await proxy?.down();
});

describe("a snapshot chunk not full yet", () => {
  it("commits a quarter of a second after its first page while the source is quiet, then the pass goes on", async () => {
    const runId = await newRun();
    let pages = 0;
    // shouldStop is asked after each page: the third one makes the source go quiet.
    const afterThirdPage = () => {
      if (++pages === 3) proxy.stall();
      return false;
    };
    const pass = runSnapshot(sourceId, { runId, commitRows: 100_000, shouldStop: afterThirdPage });
    // A chunk of 100,000 rows is far from full: only the time bound commits the pages read (the
    // third, and perhaps a fourth already on its way), and the pass is not done.
    const held = await waitFor("the pages read to commit while the source is quiet", async () => ((k) => (k && k.rows > 0 ? k : undefined))(await checkpoint()), 10_000, 20);
    expect(held.rows).toBeGreaterThanOrEqual(3 * PAGE);
    expect(held.rows).toBeLessThanOrEqual(4 * PAGE);
    expect(held.done).toBe(false);
    proxy.resume();
    const result = await pass;
    expect(result.read).toBe(ROWS);
    expect(await checkpoint()).toEqual({ rows: ROWS, done: true });
    expect(await storeEqualsSource()).toBe(true);
  });

  it("commits the pages read before the source failed, and the next attempt reads only what follows", async () => {
    await src.query("UPDATE items SET v = v + 1000");
    const runId = await newRun();
    let pages = 0;
    const afterThirdPage = () => {
      if (++pages === 3) void proxy.down();
      return false;
    };
    const failed = runSnapshot(sourceId, { runId, commitRows: 100_000, shouldStop: afterThirdPage });
    await expect(failed).rejects.toThrow();
    const kept = (await checkpoint())!;
    expect(kept.rows).toBeGreaterThanOrEqual(3 * PAGE);
    expect(kept.rows).toBeLessThan(ROWS);
    expect(kept.done).toBe(false);
    await proxy.up();
    // The same run, taken up again: it resumes after what the failed attempt committed.
    const resumed = await runSnapshot(sourceId, { runId, commitRows: 100_000 });
    expect(resumed.entities[0]!.resumed_after).not.toBeNull();
    expect(resumed.read).toBe(ROWS - kept.rows);
    expect(await storeEqualsSource()).toBe(true);
  });
});
