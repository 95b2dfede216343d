// What the store refuses is surfaced, never only counted (docs/lifecycle.md): a context id already
// written by another source is a dead letter naming the holder, a newcomer's first mapping warns
// at save time when its context type is taken (the demo keeps types of its own), a resolved dead
// letter is not reopened by a redelivered change, and a source without change capture orders its
// snapshot passes (a re-snapshot rewrites and sweeps, a re-map reaches the store).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { DEMO_MAPPING } from "../../server/demo/live.ts";
import { pgPool } from "../../server/db.ts";
import { SPEC_EXAMPLE_MAPPING } from "../../server/mapping/spec-example.ts";
import { recordDeadLetters } from "../../server/store/dead-letters.ts";
import { startWorker } from "../../worker/runtime.ts";
import { adminToken, api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";

let editor: string;
let worker: Awaited<ReturnType<typeof startWorker>>;

const CUSTOMERS = `CREATE TABLE customers (customer_id integer PRIMARY KEY, email text NOT NULL, first_name text, last_name text, country text, preferences text);`;
const rows = (from: number, to: number) =>
  `INSERT INTO customers SELECT i, 'c' || i || '@example.com', 'First' || i, 'Last' || i, 'NL', '{"i": ' || i || '}' FROM generate_series(${from}, ${to}) i`;

async function source(name: string, options: Record<string, unknown> = {}) {
  const db = await createSourceDatabase(`ecm_life_${name.replaceAll("-", "_")}`, CUSTOMERS);
  // Operator-provided secrets are pointed at a connection by an admin.
  const created = await api("POST", "/sources", { token: adminToken(), body: { name, config: { ...db.config, options: { ...db.config.options, ...options } } } });
  expect(created.status, created.text).toBe(201);
  return { id: created.body.id as string, db };
}
const runDone = (runId: string) =>
  waitFor(`run ${runId}`, async () => {
    const run = (await api("GET", `/runs/${runId}`, { token: editor })).body;
    return ["succeeded", "failed", "cancelled"].includes(run.status) ? run : undefined;
  }, 120_000, 100);
const snapshot = async (sourceId: string, body: object = {}) => runDone((await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body })).body.run_id);
const live = async (sourceId: string) =>
  (await withDb(async (c) => (await c.query("SELECT context_id, data, mapping_version FROM contexts WHERE source_id = $1 AND NOT deleted ORDER BY context_id::int", [sourceId])).rows)) as {
    context_id: string;
    data: Record<string, unknown>;
    mapping_version: number;
  }[];

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters"));
  const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
  editor = (await createToken({ name: "life-editor", role: "editor" }, system)).token;
  worker = await startWorker();
}, 120_000);
afterAll(async () => {
  await worker?.close();
});

describe("a newcomer's first mapping beside another source's", () => {
  it("keeps the demo in context types of its own", () => {
    const spec = new Set(SPEC_EXAMPLE_MAPPING.mappings.map((m) => m.target.context_type));
    for (const m of DEMO_MAPPING.mappings) {
      expect(m.target.context_type).toMatch(/^demo-/);
      expect(spec.has(m.target.context_type)).toBe(false);
    }
  });

  it("warns at save time with the field path, and turns every colliding id into a dead letter naming the holder", async () => {
    const first = await source("life-first", { change_tracking: "snapshot" });
    await first.db.query(rows(1, 2000));
    expect((await api("PUT", `/sources/${first.id}/mappings`, { token: editor, body: SPEC_EXAMPLE_MAPPING })).body.warnings).toEqual([]);
    expect((await snapshot(first.id)).status).toBe("succeeded");

    const mine = await source("life-mine", { change_tracking: "snapshot" });
    await mine.db.query(rows(1, 300));
    const saved = await api("PUT", `/sources/${mine.id}/mappings`, { token: editor, body: SPEC_EXAMPLE_MAPPING });
    expect(saved.status).toBe(200);
    expect(saved.body.warnings).toEqual([{ path: "mappings[0].target.context_type", message: expect.stringMatching(/customer-context are already written by source life-first.*dead letters/) }]);
    const run = await snapshot(mine.id);
    expect(run.status).toBe("succeeded");
    expect(run.counters).toMatchObject({ read: 300, written: 0, collisions: 300, dead_lettered: 300 });
    const letters = (await api("GET", `/dead-letters?source_id=${mine.id}&limit=500`, { token: editor })).body.dead_letters;
    expect(letters).toHaveLength(300);
    expect(letters[0]).toMatchObject({ category: "DATA", status: "open", error: { code: "CONTEXT_ID_COLLISION", message: expect.stringMatching(/already written by source life-first \(entity customers\)/) } });
    // The first source's contexts are untouched.
    expect((await api("GET", "/contexts/customer-context/1", { token: editor })).body.source_id).toBe(first.id);
    // A replay that collides again is not "already up to date": the letter stays open.
    const replay = await api("POST", "/dead-letters/replay", { token: editor, body: { ids: [letters[0].id] } });
    expect((await runDone(replay.body.run_id)).status).toBe("succeeded");
    expect((await api("GET", `/dead-letters/${letters[0].id}`, { token: editor })).body).toMatchObject({ status: "open", outcome: "failed again" });
    // Once the first source no longer maps customers (its contexts tombstoned), its tombstones hold
    // nothing: the second source's snapshot takes the ids over.
    const gone = await api("PUT", `/sources/${first.id}/mappings`, { token: editor, body: { mappings: [{ ...SPEC_EXAMPLE_MAPPING.mappings[0]!, source: { table: "customers" }, target: { context_type: "elsewhere" } }], remap: true } });
    expect((await runDone(gone.body.remap.run_id)).status).toBe("succeeded");
    expect((await api("GET", "/contexts/customer-context/1", { token: editor })).status).toBe(404);
    const again = await snapshot(mine.id);
    expect(again.counters).toMatchObject({ written: 300, collisions: 0, dead_lettered: 0 });
    expect((await api("GET", "/contexts/customer-context/1", { token: editor })).body.source_id).toBe(mine.id);
  });
});

describe("dead letters", () => {
  it("a resolved one is reopened only by a newer failure, never by a redelivered one", async () => {
    const s = await source("life-letters");
    const letter = (position: bigint, message: string) => ({
      entity: "customers",
      context_type: "customer-context",
      key: ["7"],
      key_columns: ["customer_id"],
      cursor: "pg_lsn:0/10",
      position,
      category: "DATA" as const,
      error: { message },
      payload: { customer_id: 7 },
    });
    const order = { generation: 1, snapshot: false };
    await recordDeadLetters(pgPool(), s.id, null, 1, order, [letter(100n, "first")]);
    const id = (await api("GET", `/dead-letters?source_id=${s.id}`, { token: editor })).body.dead_letters[0].id;
    expect((await api("POST", `/dead-letters/${id}/discard`, { token: editor })).status).toBe(200);
    // The same change delivered again (a stream restarted from an older cursor): stays discarded.
    await recordDeadLetters(pgPool(), s.id, null, 1, order, [letter(100n, "redelivered")]);
    expect((await api("GET", `/dead-letters/${id}`, { token: editor })).body).toMatchObject({ status: "discarded", attempts: 1 });
    // A newer change of the row failing: reopened.
    await recordDeadLetters(pgPool(), s.id, null, 1, order, [letter(200n, "newer")]);
    expect((await api("GET", `/dead-letters/${id}`, { token: editor })).body).toMatchObject({ status: "open", attempts: 2, error: { message: "newer" } });
    // Newer in a later generation even at a lower position.
    await api("POST", `/dead-letters/${id}/discard`, { token: editor });
    await recordDeadLetters(pgPool(), s.id, null, 1, { generation: 2, snapshot: true }, [letter(5n, "next generation")]);
    expect((await api("GET", `/dead-letters/${id}`, { token: editor })).body).toMatchObject({ status: "open", error: { message: "next generation" } });
  });
});

describe("a mapping saved while a snapshot runs", () => {
  it("stops the snapshot writing under the old version: the pass goes on from its checkpoint under the new one", async () => {
    // Pages of 5000 rows, each its own commit (ECM_SNAPSHOT_COMMIT_ROWS's default): chunks 1–5000, 5001–10000, …
    const s = await source("life-midway", { change_tracking: "snapshot", batch_size: 5000 });
    await s.db.query(rows(1, 20_000));
    const v1 = { mappings: [{ ...SPEC_EXAMPLE_MAPPING.mappings[0]!, target: { context_type: "midway-customer" } }] };
    await api("PUT", `/sources/${s.id}/mappings`, { token: editor, body: v1 });
    expect((await snapshot(s.id)).status).toBe("succeeded");
    // The second pass is held at the chunk of customer 10000 by a row lock on its context.
    const lock = await pgPool().connect();
    await lock.query("BEGIN");
    await lock.query("SELECT 1 FROM contexts WHERE context_type = 'midway-customer' AND context_id = '10000' FOR UPDATE");
    let runId = "";
    try {
      runId = (await api("POST", `/sources/${s.id}/snapshot`, { token: editor, body: {} })).body.run_id;
      await waitFor("the pass to reach the held chunk", async () => {
        const k = await withDb(async (c) => (await c.query("SELECT rows_done::int AS n FROM snapshot_checkpoints WHERE source_id = $1 AND run_id = $2", [s.id, runId])).rows[0]);
        return k?.n === 5000 ? true : undefined;
      }, 60_000, 20);
      const v2 = structuredClone(v1);
      v2.mappings[0]!.fields.push({ source: "country", target: "data.country_code" });
      expect((await api("PUT", `/sources/${s.id}/mappings`, { token: editor, body: v2 })).body.remap).toBeNull();
    } finally {
      await lock.query("COMMIT");
      lock.release();
    }
    expect((await runDone(runId)).status).toBe("succeeded");
    const byVersion = await withDb(async (c) => (await c.query("SELECT mapping_version, min(context_id::int) AS lo, max(context_id::int) AS hi, count(*)::int AS n FROM contexts WHERE source_id = $1 AND NOT deleted GROUP BY 1 ORDER BY 1", [s.id])).rows);
    // Everything before the held chunk was committed under version 1; nothing after the save was.
    expect(byVersion).toEqual([
      { mapping_version: 1, lo: 1, hi: 5000, n: 5000 },
      { mapping_version: 2, lo: 5001, hi: 20000, n: 15000 },
    ]);
    expect((await live(s.id)).filter((c) => c.mapping_version === 2).every((c) => c.data.country_code === "NL")).toBe(true);
    expect((await api("GET", `/sources/${s.id}/mappings/coverage`, { token: editor })).body.older).toBe(5000);
    // The recovery the console offers: save (the same document) with re-map; the contexts built by
    // version 1 are rebuilt.
    const again = await api("PUT", `/sources/${s.id}/mappings`, { token: editor, body: { mappings: (await api("GET", `/sources/${s.id}/mappings`, { token: editor })).body.mappings, remap: true } });
    expect(again.body.remap).toMatchObject({ entities: ["customers"], run_id: expect.any(String) });
    expect((await runDone(again.body.remap.run_id)).status).toBe("succeeded");
    expect((await api("GET", `/sources/${s.id}/mappings/coverage`, { token: editor })).body).toEqual({ version: 3, contexts: [{ mapping_version: 3, contexts: 20000 }], older: 0 });
  });

  it("on a quiet source with change capture, a re-map that renames the context type leaves none of the old type live", async () => {
    // No stream and no writes: every pass of this source has the same floor (the capture's start).
    const s = await source("life-quiet-cdc");
    await s.db.query(rows(1, 200));
    const mapping = { ...SPEC_EXAMPLE_MAPPING.mappings[0]!, target: { context_type: "quiet-customer" } };
    await api("PUT", `/sources/${s.id}/mappings`, { token: editor, body: { mappings: [mapping] } });
    expect((await snapshot(s.id)).status).toBe("succeeded");
    const renamed = await api("PUT", `/sources/${s.id}/mappings`, { token: editor, body: { mappings: [{ ...mapping, target: { context_type: "quiet-customer-v2" } }], remap: true } });
    expect((await runDone(renamed.body.remap.run_id)).status).toBe("succeeded");
    const types = await withDb(async (c) => (await c.query("SELECT context_type, count(*)::int AS n FROM contexts WHERE source_id = $1 AND NOT deleted GROUP BY 1", [s.id])).rows);
    expect(types).toEqual([{ context_type: "quiet-customer-v2", n: 200 }]);
  });
});

describe("a source without change capture", () => {
  it("re-snapshots above its last pass: changed rows rewritten, deleted rows tombstoned, a re-map reaches every context", async () => {
    const s = await source("life-snapshot-only", { change_tracking: "snapshot" });
    await s.db.query(rows(1, 500));
    await api("PUT", `/sources/${s.id}/mappings`, { token: editor, body: { mappings: [{ ...SPEC_EXAMPLE_MAPPING.mappings[0], target: { context_type: "life-customer" } }] } });
    expect((await snapshot(s.id)).status).toBe("succeeded");
    await s.db.query("UPDATE customers SET email = 'new' || customer_id || '@example.com' WHERE customer_id <= 10");
    await s.db.query("DELETE FROM customers WHERE customer_id > 490");
    expect((await snapshot(s.id)).status).toBe("succeeded");
    let stored = await live(s.id);
    expect(stored).toHaveLength(490);
    expect(stored[0]!.data.email).toBe("new1@example.com");
    // A field added, re-mapped: every context rebuilt under the new version, none left older.
    const mapping = structuredClone(SPEC_EXAMPLE_MAPPING.mappings[0]!);
    mapping.target = { context_type: "life-customer" };
    mapping.fields.push({ source: "country", target: "data.country_code" });
    const saved = await api("PUT", `/sources/${s.id}/mappings`, { token: editor, body: { mappings: [mapping], remap: true } });
    expect(saved.body.remap).toMatchObject({ entities: ["customers"], removed: [], run_id: expect.any(String) });
    expect((await runDone(saved.body.remap.run_id)).status).toBe("succeeded");
    stored = await live(s.id);
    expect(stored).toHaveLength(490);
    expect(stored.every((c) => c.mapping_version === 2 && c.data.country_code === "NL")).toBe(true);
    expect((await api("GET", `/sources/${s.id}/mappings/coverage`, { token: editor })).body).toEqual({ version: 2, contexts: [{ mapping_version: 2, contexts: 490 }], older: 0 });
    // A context type changed: the old type's contexts are no longer made, so they are tombstoned.
    const renamed = { ...mapping, target: { context_type: "life-customer-v2" } };
    const again = await api("PUT", `/sources/${s.id}/mappings`, { token: editor, body: { mappings: [renamed], remap: true } });
    expect((await runDone(again.body.remap.run_id)).status).toBe("succeeded");
    const types = await withDb(async (c) => (await c.query("SELECT context_type, count(*)::int AS n FROM contexts WHERE source_id = $1 AND NOT deleted GROUP BY 1", [s.id])).rows);
    expect(types).toEqual([{ context_type: "life-customer-v2", n: 490 }]);
    // An entity removed from the mapping with remap: its contexts are tombstoned at once.
    await s.db.query("CREATE TABLE notes (id integer PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'a'), (2, 'b')");
    const notes = { source: { table: "notes" }, target: { context_type: "life-note" }, fields: [{ source: "id", target: "context_id" }, { source: "body", target: "data.body" }] };
    const withNotes = await api("PUT", `/sources/${s.id}/mappings`, { token: editor, body: { mappings: [renamed, notes], remap: true } });
    expect(withNotes.body.remap.entities).toEqual(["notes"]);
    expect((await runDone(withNotes.body.remap.run_id)).status).toBe("succeeded");
    const without = await api("PUT", `/sources/${s.id}/mappings`, { token: editor, body: { mappings: [renamed], remap: true } });
    expect(without.body.remap).toEqual({ run_id: null, entities: [], removed: ["notes"], tombstoned: 2 });
    expect((await api("GET", "/contexts/life-note/1", { token: editor })).status).toBe(404);
  });
});
