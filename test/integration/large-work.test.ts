// Large work through a real worker process, its peak resident set read from the kernel (VmHWM):
//   - one source transaction updating 1M rows, streamed in parts (a transaction larger than a
//     batch is written before its commit is handled; the cursor moves past it only once it is
//     whole), after a 1M-row snapshot, under 300 MB, and the store ends equal to the source;
//   - a 5 MB value through a failing transform: one dead letter, and the stream goes on;
//   - a 50 MB jsonb value streamed into the store whole and exact, inserted, updated, then kept
//     through an update of another column, under 300 MB: it travels as the bytes the replication
//     message brought (never parsed, never decoded into a string: json/json-text.ts), in a
//     protocol buffer of its own size whose socket reads are collected as they are copied
//     (db/large-messages.ts), and a kept value never leaves the store (ecm_keep_stored).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminToken, api, createEditorToken } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";
import { parseLsn, parseLsnCursor } from "../../server/connectors/postgresql/lsn.ts";
import { killWorkers, peakRssMiB, spawnWorker, type WorkerProcess } from "../support/worker-process.ts";

const ROWS = 1_000_000;
const RSS_LIMIT_MIB = 300;
let src: Awaited<ReturnType<typeof createSourceDatabase>>;
let sourceId: string;
let editor: string;
let worker: WorkerProcess;

const status = async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body;
/** A digest of a whole table, row by row in key order, on each side (equal digests: equal rows). */
const sourceDigest = async () => (await src.query("SELECT count(*)::int AS n, md5(string_agg(id || ':' || v, ',' ORDER BY id)) AS d FROM big")).rows[0];
const storeDigest = () =>
  withDb(async (c) => (await c.query("SELECT count(*)::int AS n, md5(string_agg(context_id || ':' || (data->>'v'), ',' ORDER BY context_id::int)) AS d FROM contexts WHERE context_type = 'big' AND NOT deleted")).rows[0]);

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters"));
  editor = await createEditorToken();
  src = await createSourceDatabase(
    "ecm_large_work",
    `CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL);
     INSERT INTO big SELECT g, g FROM generate_series(1, ${ROWS}) g;
     CREATE TABLE docs (id int PRIMARY KEY, body jsonb NOT NULL, label text);
     CREATE TABLE notes (id int PRIMARY KEY, raw text NOT NULL);`,
  );
  sourceId = (await api("POST", "/sources", { token: adminToken(), body: { name: "large", config: src.config } })).body.id;
  const mappings = [
    { source: { table: "big" }, target: { context_type: "big" }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }] },
    { source: { table: "docs" }, target: { context_type: "docs" }, fields: [{ source: "id", target: "context_id" }, { source: "body", target: "data.body" }, { source: "label", target: "data.label" }] },
    { source: { table: "notes" }, target: { context_type: "notes" }, fields: [{ source: "id", target: "context_id" }, { source: "raw", target: "data.parsed", transform: "json_parse" }] },
  ];
  expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: { mappings } })).status).toBe(200);
  worker = spawnWorker();
  const run = (await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id as string;
  await waitFor("the 1M-row snapshot", async () => (await api("GET", `/runs/${run}`, { token: editor })).body.status === "succeeded", 240_000, 500);
  expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } })).status).toBe(202);
  await waitFor("streaming", async () => (await status()).state === "streaming", 60_000, 200);
}, 360_000);

afterAll(async () => {
  await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }).catch(() => {});
  killWorkers();
});

describe("large work under 300 MB", () => {
  it("streams one transaction updating 1M rows in parts (the cursor stays before it until it is whole), under 300 MB", async () => {
    await src.query("UPDATE big SET v = v + 7");
    // The transaction's commit is at or before this position: while the store holds it only in
    // part, the stored cursor must stay before it.
    const after = parseLsn((await src.query("SELECT pg_current_wal_lsn()::text AS l")).rows[0].l);
    const expected = await sourceDigest();
    let partsSeen = 0;
    const violations: string[] = [];
    await waitFor(
      "the whole transaction in the store",
      async () => {
        const cursor = (await withDb((c) => c.query("SELECT cursor FROM streams WHERE source_id = $1", [sourceId]))).rows[0].cursor as string;
        const applied = await withDb(async (c) => (await c.query("SELECT count(*)::int AS n FROM contexts WHERE context_type = 'big' AND (data->>'v')::int = context_id::int + 7")).rows[0].n as number);
        if (applied > 0 && applied < ROWS) {
          partsSeen++;
          if (parseLsnCursor(cursor) >= after) violations.push(`${applied} rows applied, cursor ${cursor} already past the transaction`);
        }
        if (applied < ROWS) return false;
        const stored = await storeDigest();
        return stored.n === expected.n && stored.d === expected.d;
      },
      300_000,
      500,
    );
    expect(partsSeen).toBeGreaterThan(0);
    expect(violations).toEqual([]);
    const peak = peakRssMiB(worker.pid);
    console.log(`large work: worker peak RSS after a 1M-row snapshot and a 1M-row transaction: ${peak.toFixed(0)} MiB`);
    expect(peak).toBeLessThan(RSS_LIMIT_MIB);
  }, 360_000);

  it("turns a 5 MB value through a failing transform into one dead letter, and goes on", async () => {
    await src.query("INSERT INTO notes VALUES (1, repeat('not json ', 600000))"); // 5.4 MB
    await src.query(`INSERT INTO notes VALUES (2, '{"ok": true}')`);
    await waitFor("the next change applied", async () => withDb(async (c) => (await c.query("SELECT 1 FROM contexts WHERE context_type = 'notes' AND context_id = '2'")).rowCount === 1), 60_000, 200);
    const letters = await withDb(async (c) => (await c.query("SELECT category, key, error->>'transform' AS transform FROM dead_letters WHERE source_id = $1 AND entity LIKE '%notes'", [sourceId])).rows);
    expect(letters).toEqual([{ category: "DATA", key: ["1"], transform: "json_parse" }]);
    expect((await status()).state).toBe("streaming");
    expect(peakRssMiB(worker.pid)).toBeLessThan(RSS_LIMIT_MIB);
  }, 120_000);

  it("streams a 50 MB jsonb value whole and exact, carried as its bytes, under 300 MB", async () => {
    // ~50 MB of JSON: 400,000 small objects.
    await src.query("INSERT INTO docs SELECT 1, jsonb_build_object('items', jsonb_agg(jsonb_build_object('n', g, 'text', repeat('x', 100)))) FROM generate_series(1, 400000) g");
    const { n: size, d: digest } = (await src.query("SELECT length(body::text) AS n, md5(body::text) AS d FROM docs WHERE id = 1")).rows[0];
    expect(size).toBeGreaterThan(50_000_000);
    await waitFor("the value in the store", async () => withDb(async (c) => (await c.query("SELECT length((data->'body')::text) AS n FROM contexts WHERE context_type = 'docs' AND context_id = '1'")).rows[0]?.n === size), 120_000, 500);
    expect((await withDb((c) => c.query("SELECT md5((data->'body')::text) AS d FROM contexts WHERE context_type = 'docs' AND context_id = '1'"))).rows[0].d).toBe(digest);
    // An update of it takes the staged upsert (the context exists now), not the first load's COPY.
    await src.query("UPDATE docs SET body = jsonb_set(body, '{items,0,n}', '-1') WHERE id = 1");
    const updated = (await src.query("SELECT md5(body::text) AS d FROM docs WHERE id = 1")).rows[0].d;
    await waitFor("the update in the store", async () => withDb(async (c) => (await c.query("SELECT md5((data->'body')::text) AS d FROM contexts WHERE context_type = 'docs' AND context_id = '1'")).rows[0]?.d === updated), 120_000, 500);
    // Another column updated: the value arrives as an unchanged TOAST datum and the store keeps
    // its own (merged by the upsert in the store: the value never travels to the worker).
    await src.query("UPDATE docs SET label = 'kept' WHERE id = 1");
    await waitFor("the label in the store", async () => withDb(async (c) => (await c.query("SELECT data->>'label' AS l FROM contexts WHERE context_type = 'docs' AND context_id = '1'")).rows[0]?.l === "kept"), 120_000, 500);
    expect((await withDb((c) => c.query("SELECT md5((data->'body')::text) AS d FROM contexts WHERE context_type = 'docs' AND context_id = '1'"))).rows[0].d).toBe(updated);
    const peak = peakRssMiB(worker.pid);
    console.log(`large work: worker peak RSS after a 50 MB value inserted, updated, then kept through an update of another column: ${peak.toFixed(0)} MiB`);
    expect(peak).toBeLessThan(RSS_LIMIT_MIB);
  }, 180_000);
});
