// The connector conformance kit: one suite every connector type must pass against a real server,
// through the product's public API and real worker processes (docs/connectors.md). A connector
// type gives a fixture (a fresh database on its server, its types table, how to break each health
// check, and how to see its capture on the source) and calls describeConformance() from a test
// file of its own (test/conformance/<type>.test.ts).
//
// What it proves, in order, on one source:
//   discovery · each health check failing for its own reason · a type round-trip table (snapshot
//   and stream) · a snapshot resumed after kill -9 of the worker reading it · inserts, updates,
//   deletes, key changes and TRUNCATE streamed · exactly-once effect after kill -9 of the stream's
//   owner mid-stream · replay of a dead letter · the lifecycle of a source (docs/lifecycle.md): a
//   mapping changed during a snapshot and re-mapped, the capture dropped by hand while stopped, the
//   source pointed at a fresh server holding a restored copy, a TRUNCATE during a snapshot · the
//   capture removed from the source on delete · incremental sync, where the type has it: first run
//   whole, then only moved rows, ties across pages, deletes by a full pass, a transaction open
//   across a run, a pass killed part way.
import { spawn, type ChildProcess } from "node:child_process";
import { workerNodeArgs } from "../../worker/build.ts";
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { adminToken, api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { waitFor } from "../support/wait.ts";

export type Row = Record<string, unknown>;
export type FixtureSource = { config: Record<string, unknown>; exec: (sql: string) => Promise<Row[]>; url?: string };
/** A session of its own on the source (a transaction held open across a run). */
export type FixtureSession = { exec: (sql: string) => Promise<Row[]>; close: () => Promise<void> };

export type ConformanceFixture = {
  type: string;
  /** A fresh, empty database on a real server of this type, and a way to run SQL on it. */
  createSource(name: string): Promise<FixtureSource>;
  /** The entity name discovery gives a table of the kit (`items`, or `db.items`). */
  entity(table: string): string;
  /** Column types and literals in the server's dialect, and the exact JSON each must become. */
  types: { column: string; type: string; literal: string; expected: unknown }[];
  /** Health checks, each failing for its own reason: the config that breaks it (and any set-up). */
  brokenHealth: { check: string; config: (good: Record<string, unknown>) => Record<string, unknown> | Promise<Record<string, unknown>> }[];
  /**
   * Whether the source still holds what change capture set up for this source (slot, publication,
   * …). Not given by a type that sets nothing up on the source (MySQL reads the server's own
   * binlog): the sections about that object are then skipped.
   */
  captureExists?(source: FixtureSource, sourceId: string): Promise<boolean>;
  /** Removes the source's change capture position the way an operator would by hand (a dropped slot, purged binlogs). */
  dropCaptureByHand(source: FixtureSource, sourceId: string): Promise<void>;
  /** A fresh, empty database on another server of this type (a database moved there), and SQL on it. */
  freshServer(name: string): Promise<FixtureSource>;
  /** Stops what freshServer started. */
  cleanup?(): Promise<void>;
  /**
   * Incremental sync (a type whose capabilities say incremental): a modification-time column's
   * type (set by the server on insert), the server's clock and a day before it as SQL, and a
   * session of its own on a kit source. Not given: the section is skipped.
   */
  incremental?: { cursorType: string; now: string; dayAgo: string; session(source: FixtureSource): Promise<FixtureSession> };
};

const BIG = 60_000; // rows of `items`: enough for a snapshot to be caught half way

/** Portable SQL: `INSERT … VALUES` lists, a thousand rows a statement. */
function insertRows(table: string, from: number, to: number, row: (i: number) => string): string[] {
  const out: string[] = [];
  for (let start = from; start <= to; start += 1000) {
    const values = [];
    for (let i = start; i <= Math.min(to, start + 999); i++) values.push(row(i));
    out.push(`INSERT INTO ${table} VALUES ${values.join(", ")}`);
  }
  return out;
}

export function describeConformance(fixture: ConformanceFixture) {
  const workers = new Set<ChildProcess>();
  const spawnWorker = () => {
    const child = spawn(process.execPath, workerNodeArgs(), {
      // A 1 s margin over the oldest open transaction (the incremental section would wait a minute with the default 60).
      env: { ...process.env, ECM_STREAM_LEASE_SECONDS: "4", ECM_SUPERVISOR_MS: "500", ECM_LOG_LEVEL: "warn", ECM_INCREMENTAL_LAG_MARGIN_SECONDS: "1" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    workers.add(child);
    child.on("exit", () => workers.delete(child));
    return child;
  };
  const kill9 = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode ? resolve() : (child.once("exit", () => resolve()), child.kill("SIGKILL"))));

  let src: FixtureSource;
  let sourceId: string;
  let editor: string;
  const items = () => fixture.entity("items");
  const events = () => fixture.entity("events");
  const typed = () => fixture.entity("typed");

  // Tables whose mapping also copies v to data.v2 (the lifecycle section's changed mapping).
  const withV2 = new Set<string>();
  /** The store equals the source under the kit's mapping (live contexts only). */
  async function storeEquals(table: "items" | "events" | "bulk"): Promise<string | null> {
    const rows = await src.exec(`SELECT id, v, doc FROM ${table} ORDER BY id`);
    const want = Object.fromEntries(
      rows.map((r) => [String(r.id), { v: Number(r.v), ...(withV2.has(table) ? { v2: Number(r.v) } : {}), doc: r.doc === null ? null : JSON.parse(String(r.doc)) }]),
    );
    const stored = await withDb(async (c) => (await c.query("SELECT context_id, data FROM contexts WHERE context_type = $1 AND source_id = $2 AND NOT deleted", [table, sourceId])).rows);
    const have = Object.fromEntries(stored.map((r: { context_id: string; data: Row }) => [r.context_id, r.data]));
    if (isDeepStrictEqual(want, have)) return null;
    const differ = Object.keys(want).filter((k) => !isDeepStrictEqual(want[k], have[k]));
    const extra = Object.keys(have).filter((k) => !(k in want));
    return `${table}: ${differ.length} missing or different (${differ.slice(0, 3).join(", ")}), ${extra.length} extra (${extra.slice(0, 3).join(", ")})`;
  }
  const converged = (table: "items" | "events" | "bulk", timeoutMs = 60_000) =>
    waitFor(`the store to equal the source (${table})`, async () => ((await storeEquals(table)) === null ? true : undefined), timeoutMs, 250).catch(async (e) => {
      throw new Error(`${(e as Error).message}: ${await storeEquals(table)}`);
    });
  const runDone = (runId: string, timeoutMs = 120_000) =>
    waitFor(`run ${runId} to finish`, async () => {
      const run = (await api("GET", `/runs/${runId}`, { token: editor })).body;
      return ["succeeded", "failed", "cancelled"].includes(run.status) ? run : undefined;
    }, timeoutMs, 200);
  const status = async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body;
  const checkpoint = async (entity: string) =>
    (await withDb(async (c) => (await c.query("SELECT run_id::text, rows_done::int AS n, done FROM snapshot_checkpoints WHERE source_id = $1 AND entity = $2", [sourceId, entity])).rows[0])) as
      | { run_id: string | null; n: number; done: boolean }
      | undefined;
  /** Holds a row lock of the store until released: a snapshot chunk that needs that row waits on it. */
  async function holdLock(sql: string, params: unknown[]) {
    const pg = (await import("pg")).default;
    const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await c.connect();
    await c.query("BEGIN");
    const locked = await c.query(sql, params);
    return { rows: locked.rowCount ?? 0, release: async () => (await c.query("COMMIT"), await c.end()) };
  }
  const kitMapping = (opts: { v2?: string[]; extra?: string[] } = {}) => ({
    mappings: [
      ...["items", "events", ...(opts.extra ?? [])].map((t) => ({
        source: { table: fixture.entity(t) },
        target: { context_type: t },
        fields: [
          { source: "id", target: "context_id" },
          { source: "v", target: "data.v" },
          ...(opts.v2?.includes(t) ? [{ source: "v", target: "data.v2" }] : []),
          { source: "doc", target: "data.doc", transform: "json_parse" },
        ],
      })),
      { source: { table: typed() }, target: { context_type: "typed" }, fields: [{ source: "id", target: "context_id" }, ...fixture.types.map((t) => ({ source: t.column, target: `data.${t.column}` }))] },
    ],
  });
  const stopStream = async () => {
    await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } });
    await waitFor("the stream to stop", async () => (await status()).stream.owner === null, 30_000);
  };

  beforeAll(async () => {
    await resetMetadata();
    await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters"));
    const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
    editor = (await createToken({ name: "kit-editor", role: "editor" }, system)).token;
    src = await fixture.createSource(`ecm_kit_${fixture.type}`);
    const typedColumns = fixture.types.map((t) => `${t.column} ${t.type}`).join(", ");
    for (const sql of [
      "CREATE TABLE items (id integer PRIMARY KEY, v integer NOT NULL, doc varchar(200))",
      "CREATE TABLE events (id integer PRIMARY KEY, v integer NOT NULL, doc varchar(200))",
      `CREATE TABLE typed (id integer PRIMARY KEY, ${typedColumns})`,
      ...insertRows("items", 1, BIG, (i) => `(${i}, ${i % 97}, '{"n": ${i}}')`),
      ...insertRows("events", 1, 50, (i) => `(${i}, 0, '{"n": ${i}}')`),
      `INSERT INTO typed VALUES (1, ${fixture.types.map((t) => t.literal).join(", ")})`,
    ]) {
      await src.exec(sql);
    }
    // Operator-provided secrets are pointed at a connection by an admin.
    const created = await api("POST", "/sources", { token: adminToken(), body: { name: `kit-${fixture.type}`, config: { ...src.config, options: { ...(src.config.options as object), batch_size: 500 } } } });
    expect(created.status, created.text).toBe(201);
    sourceId = created.body.id;
  }, 300_000);

  afterAll(async () => {
    await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }).catch(() => {});
    for (const w of workers) w.kill("SIGKILL");
    await fixture.cleanup?.();
  });

  describe(`connector conformance: ${fixture.type}`, () => {
    it("discovers the kit's tables with their keys, and describes their columns", async () => {
      const { body } = await api("GET", `/sources/${sourceId}/entities`, { token: editor });
      const found = new Map(body.entities.map((e: { name: string }) => [e.name, e]));
      for (const t of [items(), events(), typed()]) expect(found.get(t), t).toMatchObject({ kind: "table", primary_key: ["id"], cdc: true });
      const described = (await api("GET", `/sources/${sourceId}/entities/${encodeURIComponent(typed())}`, { token: editor })).body;
      expect(described.columns.map((c: { name: string }) => c.name)).toEqual(["id", ...fixture.types.map((t) => t.column)]);
      expect(described.columns[0]).toMatchObject({ name: "id", nullable: false, primary_key_position: 1 });
    });

    it("passes its health checks, and fails each one for its own reason", async () => {
      const healthy = (await api("POST", `/sources/${sourceId}/health`, { token: editor })).body;
      expect(healthy.checks.filter((c: { status: string }) => c.status === "fail")).toEqual([]);
      for (const broken of fixture.brokenHealth) {
        const config = await broken.config(src.config);
        const made = await api("POST", "/sources", { token: adminToken(), body: { name: `kit-broken-${broken.check}`, config } });
        expect(made.status, made.text).toBe(201);
        const h = (await api("POST", `/sources/${made.body.id}/health`, { token: editor })).body;
        const failed = h.checks.filter((c: { status: string }) => c.status === "fail");
        expect(failed.map((c: { name: string }) => c.name), `${broken.check}: ${JSON.stringify(h.checks)}`).toEqual([broken.check]);
        expect(failed[0].hint, broken.check).toEqual(expect.any(String));
        expect(h.status).toBe("unhealthy");
        await api("DELETE", `/sources/${made.body.id}?drop_slot=false`, { token: editor });
      }
    });

    it("resumes a snapshot after kill -9 of the worker reading it, and the store equals the source", async () => {
      const mapping = {
        mappings: [
          ...["items", "events"].map((t) => ({
            source: { table: fixture.entity(t) },
            target: { context_type: t },
            fields: [
              { source: "id", target: "context_id" },
              { source: "v", target: "data.v" },
              { source: "doc", target: "data.doc", transform: "json_parse" },
            ],
          })),
          { source: { table: typed() }, target: { context_type: "typed" }, fields: [{ source: "id", target: "context_id" }, ...fixture.types.map((t) => ({ source: t.column, target: `data.${t.column}` }))] },
        ],
      };
      const saved = await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping });
      expect(saved.status, saved.text).toBe(200);
      const first = spawnWorker();
      const runId = (await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id;
      // Half way through items: some chunks committed, not all.
      const halfWay = await waitFor(
        "a checkpoint half way through items",
        async () => {
          const rows = await withDb(async (c) => (await c.query("SELECT rows_done::int AS n, done FROM snapshot_checkpoints WHERE source_id = $1 AND entity = $2", [sourceId, items()])).rows);
          return rows[0] && !rows[0].done && rows[0].n >= 2000 ? rows[0].n : undefined; // several chunks in: a restart from zero would show
        },
        60_000,
        10,
      );
      await kill9(first);
      const atKill = (await withDb(async (c) => (await c.query("SELECT rows_done::int AS n, done, now() AS at FROM snapshot_checkpoints WHERE source_id = $1 AND entity = $2", [sourceId, items()])).rows[0])) as { n: number; done: boolean; at: Date };
      expect(atKill.done, "the worker was killed before items were done").toBe(false);
      expect(halfWay).toBeLessThan(BIG);
      spawnWorker();
      const run = await runDone(runId, 180_000);
      expect(run.status, JSON.stringify(run.error)).toBe("succeeded");
      expect(await storeEquals("items")).toBeNull();
      expect(await storeEquals("events")).toBeNull();
      // Every row counted once (the counters are kept with the checkpoints, the killed worker's included).
      expect(run.counters.read).toBe(BIG + 50 + 1);
      // Resumed, not restarted: only rows after the checkpoint were written again (a chunk or two in flight at the kill).
      const rewritten = await withDb(async (c) => (await c.query("SELECT count(*)::int AS n FROM contexts WHERE source_id = $1 AND context_type = 'items' AND updated_at > $2", [sourceId, atKill.at])).rows[0].n as number);
      expect(rewritten).toBeLessThanOrEqual(BIG - atKill.n + 1000);
    }, 240_000);

    it("keeps every value of its type table exact through the snapshot", async () => {
      const ctx = (await api("GET", "/contexts/typed/1", { token: editor })).body;
      for (const t of fixture.types) expect(ctx.data[t.column], t.type).toEqual(t.expected);
    });

    it("streams inserts, updates, deletes, key changes and TRUNCATE, with every value exact", async () => {
      // Committed after the snapshot read it but before any stream ran: the first stream delivers it
      // (it starts where the capture started, not where the source's log ends now).
      await src.exec("UPDATE events SET v = v + 1000 WHERE id = 40");
      const started = await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } });
      expect(started.status, started.text).toBe(202);
      await waitFor("the stream to run", async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body.stream.status === "streaming", 60_000);
      await src.exec(`INSERT INTO typed VALUES (2, ${fixture.types.map((t) => t.literal).join(", ")})`);
      await src.exec(`INSERT INTO events VALUES (101, 1, '{"n": 101}'), (102, 1, '{"n": 102}')`);
      await src.exec(`UPDATE events SET v = v + 10, doc = '{"n": "updated"}' WHERE id <= 10`);
      await src.exec("DELETE FROM events WHERE id BETWEEN 11 AND 20");
      await src.exec("UPDATE events SET id = 1001 WHERE id = 30"); // a key change
      await converged("events");
      const ctx = await waitFor("the streamed typed row", async () => {
        const r = await api("GET", "/contexts/typed/2", { token: editor });
        return r.status === 200 ? r.body : undefined;
      });
      for (const t of fixture.types) expect(ctx.data[t.column], t.type).toEqual(t.expected);
      const moved = await api("GET", "/contexts/events/30?include_deleted=true", { token: editor });
      expect(moved.body.deleted).toBe(true);
      await src.exec("TRUNCATE TABLE events");
      await converged("events");
      await src.exec(`INSERT INTO events VALUES (1, 5, '{"n": "after truncate"}')`);
      await converged("events");
    }, 120_000);

    it("has the effect of exactly once after kill -9 of the stream's owner mid-stream", async () => {
      spawnWorker(); // the one that takes over
      const owner = await withDb(async (c) => (await c.query("SELECT lease_owner FROM streams WHERE source_id = $1", [sourceId])).rows[0].lease_owner as string);
      const ownerPid = Number(owner.split(":").pop());
      const victim = [...workers].find((w) => w.pid === ownerPid);
      expect(victim, `owner ${owner} is one of the kit's workers`).toBeDefined();
      let killed = false;
      // 120 transactions of 500 updates each, v + 1 every time: a lost or doubled change shows.
      const writing = (async () => {
        for (let t = 0; t < 120; t++) {
          const lo = ((t * 500) % BIG) + 1;
          await src.exec(`UPDATE items SET v = v + 1, doc = '{"t": ${t}}' WHERE id BETWEEN ${lo} AND ${lo + 499}`);
          if (t === 40) {
            await kill9(victim!);
            killed = true;
          }
        }
      })();
      await writing;
      expect(killed).toBe(true);
      await converged("items", 120_000);
      const newOwner = await withDb(async (c) => (await c.query("SELECT lease_owner FROM streams WHERE source_id = $1", [sourceId])).rows[0].lease_owner as string | null);
      expect(newOwner).not.toBe(owner);
    }, 240_000);

    it("dead-letters a record that cannot be mapped, and replays it after the fix", async () => {
      await src.exec(`INSERT INTO events VALUES (500, 1, 'not json')`);
      const letter = await waitFor("the dead letter", async () => {
        const list = (await api("GET", `/dead-letters?source_id=${sourceId}&status=open`, { token: editor })).body.dead_letters;
        return list.find((d: { key: string[] }) => d.key[0] === "500");
      });
      expect(letter).toMatchObject({ entity: events(), category: "DATA", status: "open" });
      await src.exec(`INSERT INTO events VALUES (501, 1, '{"n": 501}')`);
      await waitFor("the stream to go on past the bad record", async () => (await api("GET", "/contexts/events/501", { token: editor })).status === 200);
      await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } });
      await waitFor("the stream to stop", async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body.stream.owner === null, 30_000);
      await src.exec(`UPDATE events SET doc = '{"n": "fixed"}' WHERE id = 500`);
      const replay = await api("POST", "/dead-letters/replay", { token: editor, body: { ids: [letter.id] } });
      expect(replay.status, replay.text).toBe(202);
      expect((await runDone(replay.body.run_id)).status).toBe("succeeded");
      expect((await api("GET", `/dead-letters/${letter.id}`, { token: editor })).body).toMatchObject({ status: "replayed", outcome: expect.stringMatching(/^written as events\/500/) });
      expect((await api("GET", "/contexts/events/500", { token: editor })).body.data).toEqual({ v: 1, doc: { n: "fixed" } });
    }, 120_000);

    // ---- Lifecycle (docs/lifecycle.md): what operators do to a source, each ending with store =
    // source row by row, or with the documented loud state and never "streaming". ----

    it("lifecycle: a mapping changed during a snapshot and re-mapped leaves every context under the new version; the older run is superseded", async () => {
      // The stream is stopped (previous test). The first run is held half way through items by a
      // row lock on one of its contexts, so the re-map's run surely overlaps it.
      const lock = await holdLock("SELECT 1 FROM contexts WHERE context_type = 'items' AND context_id = $1 FOR UPDATE", [String(BIG / 2)]);
      expect(lock.rows).toBe(1);
      let first = "";
      let remap = "";
      try {
        first = (await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id;
        await waitFor("the first run half way through items", async () => {
          const k = await checkpoint(items());
          return k?.run_id === first && k.n >= BIG / 4 ? true : undefined;
        }, 60_000, 50);
        const saved = await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: { ...kitMapping({ v2: ["items"] }), remap: true } });
        expect(saved.status, saved.text).toBe(200);
        expect(saved.body.remap).toMatchObject({ entities: [items()], removed: [], run_id: expect.any(String) });
        withV2.add("items");
        remap = saved.body.remap.run_id;
        // The re-map's run takes the pass over from the first, still blocked one.
        await waitFor("the re-map's run to own items", async () => ((await checkpoint(items()))?.run_id === remap ? true : undefined), 60_000, 50);
      } finally {
        await lock.release();
      }
      const firstRun = await runDone(first, 180_000);
      expect(firstRun.status).toBe("cancelled");
      expect(firstRun.error.message).toContain(`superseded: ${items()} by run ${remap}`);
      expect((await runDone(remap, 180_000)).status).toBe("succeeded");
      expect(await storeEquals("items")).toBeNull();
      expect(await storeEquals("events")).toBeNull();
      const coverage = (await api("GET", `/sources/${sourceId}/mappings/coverage`, { token: editor })).body;
      const itemsOlder = await withDb(async (c) => (await c.query("SELECT count(*)::int AS n FROM contexts WHERE source_id = $1 AND entity = $2 AND NOT deleted AND mapping_version < $3", [sourceId, items(), coverage.version])).rows[0].n);
      expect(itemsOlder, "items contexts still under an older mapping").toBe(0);
      // events and typed were not re-mapped: the console is told how many contexts are older.
      expect(coverage.older).toBeGreaterThan(0);
    }, 300_000);

    it("lifecycle: a capture dropped by hand while stopped fails the source loudly (never streaming) until a full snapshot recovers it", async () => {
      await fixture.dropCaptureByHand(src, sourceId);
      await src.exec("UPDATE events SET v = v + 100");
      await src.exec(`UPDATE items SET v = v + 1 WHERE id <= 1000`);
      // A re-snapshot of one entity cannot make a new capture: it fails, and says what recovers.
      const one = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: { entities: [items()] } });
      const failed = await runDone(one.body.run_id);
      expect(failed.status).toBe("failed");
      expect(failed.error).toMatchObject({ category: "FATAL", message: expect.stringMatching(/cannot be read.*full re-snapshot recovers/) });
      expect(await status()).toMatchObject({ state: "failed", error: { message: expect.stringMatching(/cannot be read/), category: "FATAL" } });
      // Starting the stream does not hide it either.
      expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } })).status).toBe(202);
      await waitFor("the stream to refuse the broken capture", async () => ((await status()).stream.status === "failed" ? true : undefined), 60_000);
      for (let i = 0; i < 6; i++) {
        expect((await status()).state).toBe("failed");
        await new Promise((r) => setTimeout(r, 500));
      }
      const alerts = (await api("GET", `/alerts?source_id=${sourceId}&status=open`, { token: editor })).body.alerts;
      expect(alerts.some((a: { category: string; message: string }) => a.category === "FATAL" && /cannot be read/.test(a.message))).toBe(true);
      // The recovery: a full snapshot makes a new capture, and the stream (still wanted) starts from it.
      const full = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} });
      expect((await runDone(full.body.run_id, 180_000)).status).toBe("succeeded");
      expect(await storeEquals("events")).toBeNull();
      expect(await storeEquals("items")).toBeNull();
      await waitFor("the stream to run again", async () => ((await status()).state === "streaming" ? true : undefined), 60_000);
      await src.exec("UPDATE events SET v = v + 1 WHERE id <= 5");
      await converged("events");
    }, 300_000);

    it("lifecycle: pointed at a fresh server holding a restored copy, the source fails loudly, then a full snapshot makes the store equal the new server", async () => {
      await stopStream();
      const moved = await fixture.freshServer(`ecm_kit_${fixture.type}_moved`);
      // The restore: the kit's tables and rows, copied as they are now.
      const typedColumns = fixture.types.map((t) => `${t.column} ${t.type}`).join(", ");
      for (const sql of ["CREATE TABLE items (id integer PRIMARY KEY, v integer NOT NULL, doc varchar(200))", "CREATE TABLE events (id integer PRIMARY KEY, v integer NOT NULL, doc varchar(200))", `CREATE TABLE typed (id integer PRIMARY KEY, ${typedColumns})`]) {
        await moved.exec(sql);
      }
      for (const table of ["items", "events"]) {
        const rows = await src.exec(`SELECT id, v, doc FROM ${table} ORDER BY id`);
        for (let i = 0; i < rows.length; i += 1000) {
          const part = rows.slice(i, i + 1000).map((r) => `(${r.id}, ${r.v}, ${r.doc === null ? "NULL" : `'${String(r.doc).replaceAll("'", "''")}'`})`);
          await moved.exec(`INSERT INTO ${table} VALUES ${part.join(", ")}`);
        }
      }
      await moved.exec(`INSERT INTO typed VALUES (1, ${fixture.types.map((t) => t.literal).join(", ")}), (2, ${fixture.types.map((t) => t.literal).join(", ")})`);
      // Written on the new server before the source is pointed at it.
      await moved.exec("UPDATE events SET v = 7 WHERE id <= 5");
      await moved.exec("DELETE FROM items WHERE id > 50000");
      const patched = await api("PATCH", `/sources/${sourceId}`, { token: adminToken(), body: { config: { ...moved.config, options: { ...(moved.config.options as object), batch_size: 500 } } } });
      expect(patched.status, patched.text).toBe(200);
      const old = src;
      src = moved;
      expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } })).status).toBe(202);
      await waitFor("the stream to refuse another server", async () => ((await status()).stream.status === "failed" ? true : undefined), 60_000);
      expect((await status()).error.message).toMatch(/another server or database/);
      const full = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} });
      const run = await runDone(full.body.run_id, 180_000);
      expect(run.status, JSON.stringify(run.error)).toBe("succeeded");
      expect(run.counters.written).toBeGreaterThan(0);
      expect(await storeEquals("items")).toBeNull();
      expect(await storeEquals("events")).toBeNull();
      await waitFor("the stream to run on the new server", async () => ((await status()).state === "streaming" ? true : undefined), 60_000);
      await moved.exec("UPDATE events SET v = v + 1 WHERE id <= 10");
      await moved.exec("DELETE FROM items WHERE id <= 10");
      await converged("events");
      await converged("items");
      // The old server's capture is left to the operator (it may still be someone's source).
      if (fixture.captureExists) expect(await fixture.captureExists(old, sourceId)).toBe(true);
    }, 300_000);

    it("lifecycle: a TRUNCATE during a snapshot is not undone by a chunk read before it", async () => {
      // A table new to the mapping, snapshotted while the stream runs; one chunk is held before its
      // checkpoint (a row lock on the pass's checkpoint) while the TRUNCATE is applied.
      await src.exec("CREATE TABLE bulk (id integer PRIMARY KEY, v integer NOT NULL, doc varchar(200))");
      for (const sql of insertRows("bulk", 1, 100_000, (i) => `(${i}, ${i % 13}, NULL)`)) await src.exec(sql);
      const saved = await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: { ...kitMapping({ v2: ["items"], extra: ["bulk"] }), remap: true } });
      expect(saved.status, saved.text).toBe(200);
      await waitFor("the bulk pass under way", async () => ((await checkpoint(fixture.entity("bulk")))?.n ?? 0) >= 2000 || undefined, 60_000, 20);
      const lock = await holdLock("SELECT 1 FROM snapshot_checkpoints WHERE source_id = $1 AND entity = $2 AND NOT done FOR UPDATE", [sourceId, fixture.entity("bulk")]);
      try {
        expect(lock.rows, "the lock was taken while the pass was still running").toBe(1);
        await src.exec("TRUNCATE TABLE bulk");
        await src.exec(`INSERT INTO bulk VALUES (1, 100, NULL), (2, 200, NULL), (30000, 300, NULL)`);
        await new Promise((r) => setTimeout(r, 3000)); // the stream receives the TRUNCATE meanwhile
      } finally {
        await lock.release();
      }
      expect((await runDone(saved.body.remap.run_id, 180_000)).status).toBe("succeeded");
      await converged("bulk");
    }, 300_000);

    // Skipped by capability: a type that sets nothing up on the source has nothing to remove.
    it.skipIf(!fixture.captureExists)("removes its change capture from the source when the source is deleted", async () => {
      expect(await fixture.captureExists!(src, sourceId)).toBe(true);
      const deleted = await api("DELETE", `/sources/${sourceId}?drop_capture=true`, { token: editor });
      expect(deleted.status, deleted.text).toBe(204);
      expect(await fixture.captureExists!(src, sourceId)).toBe(false);
    }, 60_000);
  });

  // Incremental sync (docs/incremental.md), on a source of its own reading a table with a
  // modification time: what each run reads, ties on the cursor across pages, a transaction open
  // across a run that commits after it, deletes seen by a reconcile that reads keys only (and a
  // full pass), a pass and a reconcile killed part way.
  describe.skipIf(!fixture.incremental)(`incremental sync: ${fixture.type}`, () => {
    let incId: string;
    const stamped = () => fixture.entity("stamped");
    const settle = () => new Promise((r) => setTimeout(r, 1500)); // past the lag's 1 s margin
    const sourceRows = async () => Object.fromEntries((await src.exec("SELECT id, v FROM stamped ORDER BY id")).map((r) => [String(r.id), { v: Number(r.v) }]));
    const storeRows = () =>
      withDb(async (c) => Object.fromEntries((await c.query("SELECT context_id, data FROM contexts WHERE context_type = 'stamped' AND source_id = $1 AND NOT deleted", [incId])).rows.map((r) => [r.context_id, r.data])));
    const runInc = async (body: object = {}) => runDone((await api("POST", `/sources/${incId}/snapshot`, { token: editor, body })).body.run_id, 60_000);

    it("reads every row first, then only those whose cursor moved, ties across pages included; a reconcile (keys only) sees deletes", async () => {
      const inc = fixture.incremental!;
      await src.exec(`CREATE TABLE stamped (id integer PRIMARY KEY, v integer NOT NULL, updated_at ${inc.cursorType})`);
      await src.exec(`INSERT INTO stamped (id, v, updated_at) VALUES ${Array.from({ length: 30 }, (_, i) => `(${i + 1}, ${i + 1}, ${inc.dayAgo})`).join(", ")}`);
      const config = { ...src.config, options: { batch_size: 7, change_tracking: "incremental", incremental: { lookback_seconds: 0 } } };
      const created = await api("POST", "/sources", { token: adminToken(), body: { name: `kit-${fixture.type}-incremental`, config } });
      expect(created.status, created.text).toBe(201);
      incId = created.body.id;
      const mapping = { mappings: [{ source: { table: stamped(), cursor: ["updated_at"] }, target: { context_type: "stamped" }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }] }] };
      expect((await api("PUT", `/sources/${incId}/mappings`, { token: editor, body: mapping })).status).toBe(200);
      spawnWorker();

      const first = await runInc();
      expect(first.status).toBe("succeeded");
      expect(first.counters.read).toBe(30);
      expect(await storeRows()).toEqual(await sourceRows());

      // 20 rows share one cursor value, read 7 at a time.
      await src.exec(`UPDATE stamped SET v = v + 100, updated_at = ${inc.now} WHERE id <= 20`);
      await settle();
      const moved = await runInc();
      expect(moved.counters.read).toBe(20);
      expect(await storeRows()).toEqual(await sourceRows());

      // A delete, and an update that does not move the cursor (seen by a full pass only).
      const before = await storeRows();
      await src.exec("DELETE FROM stamped WHERE id = 30");
      await src.exec("UPDATE stamped SET v = -1, updated_at = updated_at WHERE id = 29");
      await settle();
      const checked = await runInc();
      expect(checked.counters).toMatchObject({ read: 0, written: 1 }); // no row read; one tombstone
      const live = await storeRows();
      expect(live["30"]).toBeUndefined();
      expect(live["29"]).toEqual(before["29"]);
      expect((await api("GET", `/sources/${incId}/schedule`, { token: editor })).body.entities[0].pass).toMatchObject({ mode: "reconcile", done: true });
      expect((await runInc({ full: true })).status).toBe("succeeded");
      expect(await storeRows()).toEqual(await sourceRows());
    }, 120_000);

    it("loses no row of a transaction open across a run that commits after it (the lag waits for it)", async () => {
      const inc = fixture.incremental!;
      const early = await inc.session(src);
      try {
        await early.exec("BEGIN");
        await early.exec(`INSERT INTO stamped (id, v, updated_at) VALUES (101, 1, ${inc.now})`);
        await new Promise((r) => setTimeout(r, 1100));
        await src.exec(`INSERT INTO stamped (id, v, updated_at) VALUES (102, 2, ${inc.now})`); // later, committed first
        await settle();
        expect((await runInc()).status).toBe("succeeded");
        await early.exec("COMMIT");
      } finally {
        await early.close();
      }
      await settle();
      await runInc();
      expect(await storeRows()).toEqual(await sourceRows()); // with look-back 0: the lag alone kept row 101
    }, 120_000);

    it("resumes a pass killed part way (kill -9) at its checkpoint with its bounds: every moved row counted once", async () => {
      const inc = fixture.incremental!;
      const patched = await api("PATCH", `/sources/${incId}`, { token: editor, body: { config: { ...src.config, options: { batch_size: 500, change_tracking: "incremental", incremental: { lookback_seconds: 0 } } } } });
      expect(patched.status, patched.text).toBe(200);
      for (const sql of insertRows("stamped", 1000, 20_999, (i) => `(${i}, ${i}, ${inc.now})`)) await src.exec(sql);
      await settle();
      const runId = (await api("POST", `/sources/${incId}/snapshot`, { token: editor, body: {} })).body.run_id;
      const progress = async () =>
        (await withDb(async (c) => (await c.query("SELECT run_id::text, pass::text, done, rows_done::int AS n, last_key, pass_range, watermark FROM snapshot_checkpoints WHERE source_id = $1", [incId])).rows[0])) as
          | { run_id: string; pass: string; done: boolean; n: number; last_key: string[] | null; pass_range: { mode: string; upper: string }; watermark: { upper: string } }
          | undefined;
      const atKill = await waitFor("part of the pass committed", async () => ((p) => (p?.pass_range.mode === "incremental" && p.n >= 2000 ? p : undefined))(await progress()), 60_000, 20);
      await Promise.all([...workers].map(kill9));
      expect(atKill.n).toBeLessThan(20_000);
      spawnWorker();
      const run = await runDone(runId, 180_000);
      expect(run.status).toBe("succeeded");
      expect(run.counters.read).toBe(20_000);
      expect((await progress())!.watermark.upper).toBe(atKill.pass_range.upper); // the bounds it started with
      expect(await storeRows()).toEqual(await sourceRows());

      // The reconcile that follows a run, killed part way: it resumes after its last chunk, and
      // every deleted row's context is tombstoned exactly once.
      const small = await api("PATCH", `/sources/${incId}`, { token: editor, body: { config: { ...src.config, options: { batch_size: 100, change_tracking: "incremental", incremental: { lookback_seconds: 0 } } } } });
      expect(small.status, small.text).toBe(200);
      await src.exec("DELETE FROM stamped WHERE id >= 1000 AND id % 2 = 0");
      const reconcileRun = (await api("POST", `/sources/${incId}/snapshot`, { token: editor, body: {} })).body.run_id;
      const reconcileAtKill = await waitFor("part of the reconcile committed", async () => ((p) => (p && p.run_id === reconcileRun && p.pass_range.mode === "reconcile" && p.last_key && !p.done ? p : undefined))(await progress()), 60_000, 10);
      await Promise.all([...workers].map(kill9));
      const killed = (await progress())!;
      spawnWorker();
      const reconciled = await runDone(reconcileRun, 180_000);
      expect(reconciled.status).toBe("succeeded");
      expect(reconciled.counters).toMatchObject({ read: 0, written: 10_000 });
      // The same pass went on after its last chunk (a restart would have taken a new pass number).
      const after = (await progress())!;
      expect(killed.done).toBe(false);
      expect(after).toMatchObject({ pass: reconcileAtKill.pass, done: true, pass_range: { mode: "reconcile" } });
      expect(await storeRows()).toEqual(await sourceRows());
    }, 300_000);
  });
}
