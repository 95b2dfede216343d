// Incremental sync (docs/incremental.md) against a real PostgreSQL, through the public API and a
// real worker: each run reads the rows whose cursor column moved since the last one, bounded by
// a lag long enough that no transaction still open can commit below it, paged by (cursor, key),
// checkpointed with its contexts; deletes are seen by a reconcile (keys only) or a full pass;
// schedules start runs that never overlap.
process.env.ECM_INCREMENTAL_LAG_MARGIN_SECONDS = "1"; // the default 60 s would make every test wait a minute

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorker } from "../../worker/runtime.ts";
import { adminToken, api, createEditorToken } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";

let src: Awaited<ReturnType<typeof createSourceDatabase>>;
let sourceId: string;
let editor: string;
let worker: Awaited<ReturnType<typeof startWorker>>;

const MAPPING = {
  mappings: [
    {
      source: { table: "items", cursor: ["updated_at"] },
      target: { context_type: "item" },
      fields: [
        { source: "id", target: "context_id" },
        { source: "name", target: "data.name" },
        { source: "qty", target: "data.qty" },
      ],
    },
  ],
};

/** Past the lag's margin (1 s here): what committed before is below the next run's upper bound. */
const settle = () => new Promise((r) => setTimeout(r, 1500));

async function runOnce(body: object = {}) {
  const queued = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body });
  expect(queued.status).toBe(202);
  return waitFor(
    "the run to finish",
    async () => {
      const r = (await api("GET", `/runs/${queued.body.run_id}`, { token: editor })).body;
      return ["succeeded", "failed", "cancelled"].includes(r.status) ? r : undefined;
    },
    60_000,
    100,
  );
}

/** The store's live contexts of the entity, as {id: data}. */
const stored = () =>
  withDb(async (c) => Object.fromEntries((await c.query("SELECT context_id, data FROM contexts WHERE context_type = 'item' AND NOT deleted ORDER BY context_id")).rows.map((r) => [r.context_id, r.data])));
/** The source's rows under the mapping. */
const expected = async () => Object.fromEntries((await src.query("SELECT id, name, qty FROM items ORDER BY id")).rows.map((r) => [String(r.id), { name: r.name, qty: r.qty }]));
const sync = async () => (await api("GET", `/sources/${sourceId}/schedule`, { token: editor })).body;

/**
 * The source's options; deletes are checked only where a test asks (reconcile_every: 1, the
 * default), so the others see each pass as it read.
 */
async function configure(options: { incremental?: object; schedule?: object }) {
  const incremental = { reconcile_every: 10_000, ...options.incremental };
  const r = await api("PATCH", `/sources/${sourceId}`, { token: editor, body: { config: { ...src.config, options: { batch_size: 7, change_tracking: "incremental", ...options, incremental } } } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters"));
  editor = await createEditorToken();
  src = await createSourceDatabase(
    "ecm_incremental",
    `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), note jsonb);
     INSERT INTO items (id, name, qty, updated_at) SELECT g, 'item ' || g, g, now() - interval '1 hour' FROM generate_series(1, 40) g;`,
  );
  const created = await api("POST", "/sources", { token: adminToken(), body: { name: "incremental", config: { ...src.config, options: { batch_size: 7, change_tracking: "incremental", incremental: { lookback_seconds: 0, reconcile_every: 10_000 } } } } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  sourceId = created.body.id;
  worker = await startWorker();
});

afterAll(async () => {
  await worker?.close();
});

describe("incremental sync", () => {
  it("checks the cursor against the live schema, at its field path", async () => {
    const bad = (cursor: string[]) => api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: { mappings: [{ ...MAPPING.mappings[0], source: { table: "items", cursor } }] } });
    const missing = await bad(["changed_at"]);
    expect(missing.status).toBe(400);
    expect(missing.body.error.issues).toEqual([expect.objectContaining({ path: "mappings[0].source.cursor[0]", message: expect.stringMatching(/no column "changed_at"/) })]);
    expect((await bad(["qty"])).body.error.issues[0].message).toMatch(/must be a modification time/);
    expect((await bad(["updated_at", "note"])).body.error.issues[0].message).toMatch(/cannot order rows/);
    expect((await bad(["updated_at", "updated_at"])).body.error.issues[0].message).toMatch(/named twice/);
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: MAPPING })).status).toBe(200);
  });

  it("reads every row on the first run, then only the rows whose cursor moved", async () => {
    const first = await runOnce();
    expect(first.status).toBe("succeeded");
    expect(first.counters.read).toBe(40);
    expect(await stored()).toEqual(await expected());
    const firstPass = (await sync()).entities[0];
    expect(firstPass).toMatchObject({ entity: "items", cursor: ["updated_at"], passes_since_full: 0, pass: { mode: "full", done: true } });

    await src.query("UPDATE items SET qty = qty + 100, updated_at = now() WHERE id IN (3, 4)");
    await src.query("INSERT INTO items (id, name, qty) VALUES (41, 'new', 1)");
    await settle();
    const second = await runOnce();
    expect(second.status).toBe("succeeded");
    expect(second.counters.read).toBe(3); // only what moved
    expect(await stored()).toEqual(await expected());
    // Each run's rows stand above every earlier run's in the store's order (its pass number).
    const passes = await withDb(async (c) => (await c.query("SELECT context_id, snapshot_pass::int AS pass FROM contexts WHERE context_type = 'item' AND context_id IN ('1', '3', '41')")).rows);
    const passOf = new Map(passes.map((r) => [r.context_id, r.pass]));
    expect(passOf.get("3")).toBe(passOf.get("41"));
    expect(passOf.get("3")).toBeGreaterThan(passOf.get("1")!);
    expect((await sync()).entities[0]).toMatchObject({ passes_since_full: 1, pass: { mode: "incremental", lower: firstPass.next_from, done: true } });
  });

  it("never loses nor repeats rows that share a cursor value across page boundaries", async () => {
    // 30 rows with one timestamp, read 7 at a time: every page boundary falls inside the tie.
    await src.query("UPDATE items SET qty = qty + 1, updated_at = now() WHERE id BETWEEN 5 AND 34");
    await settle();
    const run = await runOnce();
    expect(run.counters.read).toBe(30);
    expect(run.counters.written).toBe(30);
    expect(await stored()).toEqual(await expected());
  });

  it("loses no row of two writers whose transactions commit out of cursor order", async () => {
    const a = new pg.Client({ connectionString: src.url });
    const b = new pg.Client({ connectionString: src.url });
    await Promise.all([a.connect(), b.connect()]);
    try {
      // A starts first (its now() is earlier) but commits last; a run meanwhile must not move past it.
      await a.query("BEGIN");
      await a.query("INSERT INTO items (id, name, qty) VALUES (101, 'early writer', 1)");
      await new Promise((r) => setTimeout(r, 1100));
      await b.query("BEGIN");
      await b.query("INSERT INTO items (id, name, qty) VALUES (102, 'late writer', 2)");
      await b.query("COMMIT");
      await new Promise((r) => setTimeout(r, 1500));
      const during = await runOnce();
      expect(during.status).toBe("succeeded");
      const bound = (await sync()).entities[0].next_from as string;
      const started = (await src.query("SELECT updated_at::text AS t FROM items WHERE id = 102")).rows[0].t as string;
      expect(new Date(bound).getTime()).toBeLessThan(new Date(started).getTime()); // the bound stayed below the open transaction
      await a.query("COMMIT");
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
    await new Promise((r) => setTimeout(r, 1500)); // past the lag's margin
    await runOnce();
    expect(await stored()).toEqual(await expected()); // with look-back 0, only the lag kept row 101
  });

  it("with a fixed lag of 0, still reads a late commit again through the look-back window", async () => {
    await configure({ incremental: { lag_seconds: 0, lookback_seconds: 30 } });
    const late = new pg.Client({ connectionString: src.url });
    await late.connect();
    try {
      await late.query("BEGIN");
      await late.query("INSERT INTO items (id, name, qty) VALUES (103, 'inside the look-back', 3)");
      await new Promise((r) => setTimeout(r, 500));
      const during = await runOnce(); // its upper bound passes the open transaction's time (lag 0)
      expect(new Date((await sync()).entities[0].next_from).getTime()).toBeGreaterThan(Date.parse((await late.query("SELECT now()::text AS t")).rows[0].t));
      expect(during.status).toBe("succeeded");
      await late.query("COMMIT");
    } finally {
      await late.end();
    }
    await runOnce();
    expect((await stored())["103"]).toEqual({ name: "inside the look-back", qty: 3 });
    await configure({ incremental: { lookback_seconds: 0 } });
  });

  it("sees deletes by a reconcile that reads keys only (every reconcile_every runs), and re-reads rows in a full pass", async () => {
    await src.query("DELETE FROM items WHERE id IN (1, 2)");
    // Past the lag's margin: the late row of the test before (its cursor is its transaction's
    // start) is then below this run's upper bound, so the runs below read only what they change.
    await settle();
    await runOnce();
    expect(Object.keys(await stored())).toContain("1"); // a cursor cannot see a delete

    await configure({ incremental: { lookback_seconds: 0, reconcile_every: 1 } });
    const eight = (await stored())["8"];
    await src.query("DELETE FROM items WHERE id = 7");
    await src.query("UPDATE items SET qty = -1 WHERE id = 8"); // the cursor does not move: not seen but by a full pass
    await src.query("INSERT INTO items (id, name, qty) VALUES (200, 'moved', 1)");
    await settle();
    const checked = await runOnce();
    expect(checked.status).toBe("succeeded");
    expect(checked.counters).toMatchObject({ read: 1, written: 4 }); // the inserted row; it and three tombstones
    const live = await stored();
    expect(["1", "2", "7"].filter((id) => id in live)).toEqual([]);
    expect(live["200"]).toEqual({ name: "moved", qty: 1 });
    expect(live["8"]).toEqual(eight); // keys only: the row itself was not read
    expect((await sync()).entities[0]).toMatchObject({ passes_since_reconcile: 0, passes_since_full: expect.any(Number), pass: { mode: "reconcile", lower: null, done: true } });
    // A reconcile leaves where the next run starts where its incremental pass put it.
    const next = (await sync()).entities[0].next_from;
    await runOnce();
    expect((await sync()).entities[0].pass).toMatchObject({ mode: "reconcile", done: true });
    expect(new Date((await sync()).entities[0].next_from).getTime()).toBeGreaterThanOrEqual(new Date(next).getTime());

    const full = await runOnce({ full: true });
    expect(full.status).toBe("succeeded");
    expect(await stored()).toEqual(await expected());
    expect((await sync()).entities[0]).toMatchObject({ passes_since_full: 0, passes_since_reconcile: 0, pass: { mode: "full" } });

    await configure({ incremental: { lookback_seconds: 0, reconcile_every: 3 } });
    await src.query("DELETE FROM items WHERE id = 9");
    const every: string[] = [];
    for (let i = 0; i < 3; i++) {
      await runOnce();
      every.push((await sync()).entities[0].pass.mode);
    }
    expect(every).toEqual(["incremental", "incremental", "reconcile"]);
    expect(await stored()).toEqual(await expected());

    await runOnce({ full: true }); // full_every counts from here
    await configure({ incremental: { lookback_seconds: 0, full_every: 2 } });
    await src.query("DELETE FROM items WHERE id = 3");
    const modes: string[] = [];
    for (let i = 0; i < 2; i++) {
      await runOnce();
      modes.push((await sync()).entities[0].pass.mode);
    }
    expect(modes).toEqual(["incremental", "full"]);
    expect(await stored()).toEqual(await expected());
  });

  it("makes contexts stored without their row's key (before keys were kept) whole again with a full pass, then reconciles them", async () => {
    await withDb((c) => c.query("UPDATE contexts SET source_key = NULL WHERE source_id = $1", [sourceId]));
    await withDb((c) => c.query("UPDATE snapshot_checkpoints SET watermark = watermark - 'key' WHERE source_id = $1", [sourceId]));
    await configure({ incremental: { lookback_seconds: 0, reconcile_every: 1 } });
    await src.query("DELETE FROM items WHERE id = 10");
    await runOnce();
    expect((await sync()).entities[0].pass.mode).toBe("full");
    expect(await stored()).toEqual(await expected());
    const keyless = await withDb(async (c) => (await c.query("SELECT count(*)::int AS n FROM contexts WHERE source_id = $1 AND NOT deleted AND source_key IS NULL", [sourceId])).rows[0].n);
    expect(keyless).toBe(0);
    await src.query("DELETE FROM items WHERE id = 11");
    await runOnce();
    expect((await sync()).entities[0].pass.mode).toBe("reconcile");
    expect(await stored()).toEqual(await expected());
    await configure({ incremental: { lookback_seconds: 0 } });
  });

  it("reconciles a composite key of other types by value; a key whose type changes, a mass delete, or an id built from more than the key go to full passes", async () => {
    await src.query(`CREATE TABLE keyed (at timestamptz, amount numeric(10,2), name text, v int NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (at, amount, name));
      INSERT INTO keyed (at, amount, name, v, updated_at) SELECT timestamptz '2026-01-01 00:00+02' + g * interval '1 minute', g / 4.0, 'n' || g, g, now() - interval '1 hour' FROM generate_series(1, 120) g`);
    const config = { ...src.config, options: { batch_size: 60, change_tracking: "incremental", incremental: { lookback_seconds: 0 } } };
    const keyed = (await api("POST", "/sources", { token: adminToken(), body: { name: "incremental-keyed", config } })).body.id as string;
    const mapping = (id: string) => ({ mappings: [{ source: { table: "keyed", cursor: ["updated_at"] }, target: { context_type: "keyed" }, fields: [{ target: "context_id", transform: { name: "template", template: id } }, { source: "v", target: "data.v" }] }] });
    expect((await api("PUT", `/sources/${keyed}/mappings`, { token: editor, body: mapping("{at}|{amount}|{name}") })).status).toBe(200);
    const run = async () => {
      const id = (await api("POST", `/sources/${keyed}/snapshot`, { token: editor, body: {} })).body.run_id;
      const done = await waitFor("the run", async () => ((r) => (["succeeded", "failed"].includes(r.status) ? r : undefined))((await api("GET", `/runs/${id}`, { token: editor })).body), 60_000, 100);
      expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
      return { run: done, mode: (await api("GET", `/sources/${keyed}/schedule`, { token: editor })).body.entities[0].pass.mode as string };
    };
    const live = () => withDb(async (c) => (await c.query("SELECT data->>'v' AS v FROM contexts WHERE source_id = $1 AND NOT deleted ORDER BY (data->>'v')::int", [keyed])).rows.map((r) => Number(r.v)));
    const rows = async () => (await src.query("SELECT v FROM keyed ORDER BY v")).rows.map((r) => r.v);
    expect((await run()).mode).toBe("full");

    await src.query("DELETE FROM keyed WHERE v IN (5, 77)");
    const checked = await run();
    expect(checked.mode).toBe("reconcile"); // timestamptz, numeric and text keys matched by value
    expect(checked.run.counters.written).toBe(2);
    expect(await live()).toEqual(await rows());

    // The key's type changes (its text form with it): a full pass rewrites every context's key.
    await src.query("ALTER TABLE keyed ALTER COLUMN amount TYPE numeric(10,3)");
    expect((await run()).mode).toBe("full");
    expect(await live()).toEqual(await rows());
    await src.query("DELETE FROM keyed WHERE v = 9");
    expect((await run()).mode).toBe("reconcile");
    expect(await live()).toEqual(await rows());

    // A whole chunk gone at once: the reconcile is in doubt and a full pass decides, in the same run.
    await src.query("DELETE FROM keyed WHERE v > 40");
    expect((await run()).mode).toBe("full");
    expect(await live()).toEqual(await rows());

    // An id built from a column that is not the key: one row's delete says nothing of a context.
    expect((await api("PUT", `/sources/${keyed}/mappings`, { token: editor, body: { ...mapping("{name}-{v}"), remap: true } })).status).toBe(200);
    await waitFor("the re-map", async () => !(await api("GET", `/runs?source_id=${keyed}&limit=5`, { token: editor })).body.runs.some((r: { status: string }) => ["queued", "running"].includes(r.status)) || undefined, 60_000, 100);
    await src.query("DELETE FROM keyed WHERE v = 10");
    expect((await run()).mode).toBe("incremental"); // no reconcile: deletes wait for a full pass
    expect(await live()).toContain(10);
    await api("DELETE", `/sources/${keyed}`, { token: adminToken() });
  });

  it("refuses a run asked for while another of the source's runs goes (runs never overlap), naming it", async () => {
    const blocker = new pg.Client({ connectionString: src.url });
    await blocker.connect();
    try {
      // The first run waits on this lock, so it is certainly still going when the second is asked for.
      await blocker.query("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
      const first = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} });
      expect(first.status).toBe(202);
      const second = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: { full: true } });
      expect(second.status).toBe(409);
      expect(second.body.error.message).toContain(first.body.run_id);
      await blocker.query("COMMIT");
      await waitFor("the first run", async () => (await api("GET", `/runs/${first.body.run_id}`, { token: editor })).body.status === "succeeded" || undefined, 60_000, 100);
      expect((await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).status).toBe(202); // once it is done
      await waitFor("no run going", async () => !(await api("GET", `/runs?source_id=${sourceId}&limit=5`, { token: editor })).body.runs.some((r: { status: string }) => ["queued", "running"].includes(r.status)) || undefined, 60_000, 100);
    } finally {
      await blocker.end();
    }
  });
});

describe("a soft-delete column", () => {
  it("tombstones a row marked deleted by the run that reads it, between full passes", async () => {
    await src.query("ALTER TABLE items ADD COLUMN deleted_at timestamptz");
    const withSoftDelete = { mappings: [{ ...MAPPING.mappings[0], source: { table: "items", cursor: ["updated_at"], soft_delete: "deleted_at" } }] };
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: withSoftDelete })).status).toBe(200);
    await src.query("UPDATE items SET deleted_at = now(), updated_at = now() WHERE id = 6");
    await settle();
    const run = await runOnce();
    expect((await sync()).entities[0].pass.mode).toBe("incremental");
    expect(run.counters.read).toBe(1);
    const six = await withDb(async (c) => (await c.query("SELECT deleted FROM contexts WHERE context_type = 'item' AND context_id = '6'")).rows[0]);
    expect(six.deleted).toBe(true);
    // Undeleted: live again.
    await src.query("UPDATE items SET deleted_at = NULL, updated_at = now() WHERE id = 6");
    await settle();
    await runOnce();
    expect((await stored())["6"]).toBeDefined();
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: MAPPING })).status).toBe(200);
  });
});

describe("incremental sync of a wall clock, and a re-map", () => {
  it("bounds a timestamp without time zone in the writers' zone (daylight saving: at least an hour read again)", async () => {
    // The writers' wall clock is New York's: written as now() there, five or four hours behind UTC.
    await src.query(`CREATE TABLE local_items (id int PRIMARY KEY, v int NOT NULL, changed timestamp NOT NULL);
      INSERT INTO local_items SELECT g, g, (now() AT TIME ZONE 'America/New_York') - interval '1 day' FROM generate_series(1, 10) g`);
    const config = { ...src.config, options: { batch_size: 7, change_tracking: "incremental", incremental: { lookback_seconds: 0, time_zone: "America/New_York", reconcile_every: 10_000 } } };
    const local = (await api("POST", "/sources", { token: adminToken(), body: { name: "incremental-local", config } })).body.id as string;
    const mapping = { mappings: [{ source: { table: "local_items", cursor: ["changed"] }, target: { context_type: "local-item" }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }] }] };
    expect((await api("PUT", `/sources/${local}/mappings`, { token: editor, body: mapping })).status).toBe(200);
    const runLocal = async () => {
      const run = (await api("POST", `/sources/${local}/snapshot`, { token: editor, body: {} })).body.run_id;
      return waitFor("the run", async () => ((r) => (r.status === "succeeded" ? r : undefined))((await api("GET", `/runs/${run}`, { token: editor })).body), 60_000, 100);
    };
    await runLocal();
    const first = (await api("GET", `/sources/${local}/schedule`, { token: editor })).body.entities[0];
    const nyNow = (await src.query("SELECT (now() AT TIME ZONE 'America/New_York')::text AS t")).rows[0].t as string;
    expect(Math.abs(Date.parse(`${first.next_from}Z`) - Date.parse(`${nyNow}Z`))).toBeLessThan(10_000); // New York's wall clock, not UTC's
    await src.query("UPDATE local_items SET v = 100, changed = now() AT TIME ZONE 'America/New_York' WHERE id = 3");
    await settle();
    expect((await runLocal()).counters.read).toBe(1);
    const second = (await api("GET", `/sources/${local}/schedule`, { token: editor })).body.entities[0];
    expect(Date.parse(`${first.next_from}Z`) - Date.parse(`${second.pass.lower}Z`)).toBe(3_600_000); // look-back raised to an hour (daylight saving)
    const stored = await withDb(async (c) => (await c.query("SELECT data FROM contexts WHERE context_type = 'local-item' AND context_id = '3'")).rows[0].data);
    expect(stored).toEqual({ v: 100 });
    await api("DELETE", `/sources/${local}`, { token: adminToken() });
  });

  it("re-maps an incremental source's entity with a full pass: rows that did not move are rebuilt too", async () => {
    const remapped = { mappings: [{ ...MAPPING.mappings[0], fields: [...MAPPING.mappings[0]!.fields, { source: "qty", target: "data.count" }] }], remap: true };
    const saved = await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: remapped });
    expect(saved.status).toBe(200);
    const runId = saved.body.remap.run_id as string;
    await waitFor("the re-map", async () => (await api("GET", `/runs/${runId}`, { token: editor })).body.status === "succeeded" || undefined, 60_000, 100);
    expect((await sync()).entities[0].pass.mode).toBe("full");
    const counts = await withDb(async (c) => (await c.query("SELECT count(*)::int AS n FROM contexts WHERE context_type = 'item' AND NOT deleted AND data ? 'count'")).rows[0].n);
    expect(counts).toBe(Object.keys(await expected()).length);
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: { ...MAPPING, remap: true } })).status).toBe(200);
    await waitFor("back to the first mapping", async () => ((await withDb(async (c) => (await c.query("SELECT count(*)::int AS n FROM contexts WHERE context_type = 'item' AND data ? 'count'")).rows[0].n)) === 0 ? true : undefined), 60_000, 200);
  });
});

describe("incremental sync's health and fallbacks", () => {
  const check = async (id: string, name: string) => ((await api("POST", `/sources/${id}/health`, { token: editor })).body.checks as { name: string; status: string; message: string; hint?: string }[]).find((c) => c.name === name);

  it("warns when a cursor column leads no index (with the statement to run), and passes once one does", async () => {
    const before = await check(sourceId, "cursor_index");
    expect(before).toMatchObject({ status: "warn", hint: 'CREATE INDEX ON "public"."items" ("updated_at")' });
    await src.query("CREATE INDEX items_updated_at ON items (updated_at)");
    expect((await check(sourceId, "cursor_index"))?.status).toBe("pass");
    expect((await check(sourceId, "incremental_lag"))?.status).toBe("pass"); // the test role is a superuser
  });

  it("keeps the documented default lag when the role cannot see other sessions' transactions, and says so", async () => {
    await src.query("DROP ROLE IF EXISTS ecm_incremental_reader; CREATE ROLE ecm_incremental_reader LOGIN PASSWORD 'reader-password'; GRANT SELECT ON items TO ecm_incremental_reader");
    process.env.ECM_SOURCE_INCREMENTAL_READER = "reader-password";
    const config = {
      ...src.config,
      authentication: { type: "credentials", username: "ecm_incremental_reader", password_secret: "env://ECM_SOURCE_INCREMENTAL_READER" },
      options: { batch_size: 7, change_tracking: "incremental" },
    };
    const limited = (await api("POST", "/sources", { token: adminToken(), body: { name: "incremental-limited", config } })).body.id as string;
    expect((await api("PUT", `/sources/${limited}/mappings`, { token: editor, body: { mappings: [{ ...MAPPING.mappings[0], target: { context_type: "item-limited" } }] } })).status).toBe(200);
    expect(await check(limited, "incremental_lag")).toMatchObject({ status: "warn", message: expect.stringMatching(/300 s lag/), hint: expect.stringMatching(/pg_read_all_stats/) });
    // Two runs: the second is incremental, its upper bound 300 s behind the clock, then a reconcile
    // (the role reads keys with SELECT alone) that keeps that bound.
    for (let i = 0; i < 2; i++) {
      const run = (await api("POST", `/sources/${limited}/snapshot`, { token: editor, body: {} })).body.run_id;
      await waitFor("the run", async () => (await api("GET", `/runs/${run}`, { token: editor })).body.status === "succeeded" || undefined, 60_000, 100);
    }
    const pass = (await api("GET", `/sources/${limited}/schedule`, { token: editor })).body.entities[0].pass;
    expect(pass.mode).toBe("reconcile");
    const behind = (Date.now() - Date.parse(pass.upper)) / 1000;
    expect(behind).toBeGreaterThanOrEqual(299);
    expect(behind).toBeLessThan(400);
    await api("DELETE", `/sources/${limited}`, { token: adminToken() });
  });
});

describe("schedules", () => {
  it("refuses a schedule on a change stream and a cron expression it cannot read", async () => {
    const onCdc = await api("PATCH", `/sources/${sourceId}`, { token: editor, body: { config: { ...src.config, options: { change_tracking: "cdc", schedule: { every_seconds: 60 } } } } });
    expect(onCdc.status).toBe(400);
    expect(JSON.stringify(onCdc.body.error.issues)).toMatch(/options.schedule/);
    const badCron = await api("PATCH", `/sources/${sourceId}`, { token: editor, body: { config: { ...src.config, options: { change_tracking: "incremental", schedule: { cron: "every minute" } } } } });
    expect(badCron.status).toBe(400);
    expect(JSON.stringify(badCron.body.error.issues)).toMatch(/not a cron expression/);
  });

  it("starts runs by itself, never two at once, shows the next and last run, and stops while paused", async () => {
    await src.query("UPDATE items SET qty = qty + 1, updated_at = now() WHERE id = 10");
    await configure({ incremental: { lookback_seconds: 0 }, schedule: { cron: "*/2 * * * * *" } });
    const ran = await waitFor(
      "two scheduled runs",
      async () => {
        const s = (await sync()).schedule;
        const runs = (await api("GET", `/runs?source_id=${sourceId}&limit=50`, { token: editor })).body.runs.filter((r: { created_by: string | null }) => r.created_by === "schedule");
        return runs.filter((r: { status: string }) => r.status === "succeeded").length >= 2 && s.next_run_at ? { s, runs } : undefined;
      },
      30_000,
      200,
    );
    expect(ran.s).toMatchObject({ cron: "*/2 * * * * *", timezone: "UTC", paused: false, last_run: { status: expect.any(String) } });
    expect(await stored()).toEqual(await expected());
    // Never two at once: each run started after the previous one finished.
    const spans = ran.runs
      .filter((r: { started_at: string | null }) => r.started_at)
      .map((r: { started_at: string; finished_at: string | null }) => [Date.parse(r.started_at), r.finished_at ? Date.parse(r.finished_at) : Infinity])
      .sort((x: number[], y: number[]) => x[0]! - y[0]!);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);

    const paused = await api("POST", `/sources/${sourceId}/schedule`, { token: editor, body: { action: "pause" } });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ paused: true, next_run_at: null });
    await new Promise((r) => setTimeout(r, 1000)); // a tick already queued may still start one run
    const count = async () => (await api("GET", `/runs?source_id=${sourceId}&limit=200`, { token: editor })).body.runs.length;
    const before = await count();
    await new Promise((r) => setTimeout(r, 5000));
    expect(await count()).toBe(before);
    expect((await api("POST", `/sources/${sourceId}/schedule`, { token: editor, body: { action: "resume" } })).body.paused).toBe(false);
    await waitFor("a run after resuming", async () => (await count()) > before, 20_000, 200);
    expect((await api("POST", `/sources/${sourceId}/schedule`, { token: (await api("POST", "/tokens", { token: adminToken(), body: { name: "viewer", role: "viewer" } })).body.token, body: { action: "pause" } })).status).toBe(403);
    await configure({ incremental: { lookback_seconds: 0 } }); // no schedule: its scheduler is removed
  });
});
