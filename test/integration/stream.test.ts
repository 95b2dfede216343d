// Change streaming end to end against a real PostgreSQL with logical replication and a real
// worker on the test Redis: snapshot → stream handoff, inserts/updates/deletes, restarts with
// back-to-back commits, the acknowledgement traps, TOAST, TRUNCATE and schema changes.
process.env.ECM_SUPERVISOR_MS = "300";
process.env.ECM_STREAM_LEASE_SECONDS = "5";
process.env.ECM_RETRY_INITIAL_MS = "200";

import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { startWorker } from "../../worker/runtime.ts";
import { adminToken, api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";
import { parseLsn, parseLsnCursor } from "../../server/connectors/postgresql/lsn.ts";
import { purgeTombstonesOf } from "../../server/pipeline/tombstones.ts";

let src: Awaited<ReturnType<typeof createSourceDatabase>>;
let sourceId: string;
let editor: string;
let viewer: string;
let worker: Awaited<ReturnType<typeof startWorker>> | null = null;

const SETUP = `
  CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, doc text, big text);
  CREATE TABLE events (id bigint PRIMARY KEY, item_id int, kind text);
  INSERT INTO items SELECT g, 'item ' || g, '{"n": ' || g || '}', NULL FROM generate_series(1, 50) g;
  INSERT INTO events SELECT g, 1 + g % 50, 'seed' FROM generate_series(1, 20) g;`;

const MAPPING = {
  mappings: [
    {
      source: { table: "items" },
      target: { context_type: "item" },
      fields: [
        { source: "id", target: "context_id" },
        { source: "name", target: "data.name" },
        { source: "doc", target: "data.doc", transform: "json_parse" },
        { source: "big", target: "data.big" },
      ],
    },
    {
      source: { table: "events" },
      target: { context_type: "event" },
      fields: [
        { source: "id", target: "context_id" },
        { source: "item_id", target: "data.item" },
        { source: "kind", target: "data.kind" },
      ],
    },
  ],
};

/** Every live context of a type, as {id: data}. */
async function stored(type: string) {
  return withDb(async (c) => {
    const { rows } = await c.query<{ context_id: string; data: Record<string, unknown> }>("SELECT context_id, data FROM contexts WHERE context_type = $1 AND NOT deleted", [type]);
    return Object.fromEntries(rows.map((r) => [r.context_id, r.data]));
  });
}

/** The source under the mapping, computed independently of the product's mapper. */
async function expectedItems() {
  const { rows } = await src.query("SELECT id, name, doc, big FROM items");
  return Object.fromEntries(rows.map((r) => [String(r.id), { name: r.name, doc: r.doc === null ? null : JSON.parse(r.doc), big: r.big }]));
}
async function expectedEvents() {
  const { rows } = await src.query("SELECT id, item_id, kind FROM events");
  return Object.fromEntries(rows.map((r) => [String(r.id), { item: r.item_id, kind: r.kind }]));
}

async function converged() {
  const [a, b, c, d] = await Promise.all([stored("item"), expectedItems(), stored("event"), expectedEvents()]);
  return isDeepStrictEqual(a, b) && isDeepStrictEqual(c, d);
}
async function expectConverged(what: string) {
  await waitFor(what, converged, 30_000, 200).catch(() => {}); // the assertions below show the difference
  expect(await stored("item")).toEqual(await expectedItems());
  expect(await stored("event")).toEqual(await expectedEvents());
}

const status = async () => (await api("GET", `/sources/${sourceId}/status`, { token: viewer })).body;
const storedCursor = async () => withDb(async (c) => (await c.query("SELECT cursor FROM streams WHERE source_id = $1", [sourceId])).rows[0]?.cursor as string | null);
const slotName = () => `ecm_slot_${sourceId.replaceAll("-", "")}`;
const confirmedFlush = async () => (await src.query("SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = $1", [slotName()])).rows[0]?.l as string | undefined;

async function startStream(body: Record<string, unknown> = {}) {
  const r = await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start", ...body } });
  expect(r.status).toBe(202);
  await waitFor("stream to be streaming", async () => (await status()).state === "streaming");
  return r.body.run_id as string;
}
async function stopStream() {
  const r = await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } });
  expect(r.status).toBe(202);
  await waitFor("stream to stop", async () => (await status()).stream.status === "stopped");
}

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters"));
  const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
  editor = (await createToken({ name: "e", role: "editor" }, system)).token;
  viewer = (await createToken({ name: "v", role: "viewer" }, system)).token;
  src = await createSourceDatabase("ecm_stream_src", SETUP);
  const created = await api("POST", "/sources", { token: adminToken() /* an env:// secret is pointed at a host by an admin */, body: { name: "stream-src", config: src.config } });
  expect(created.status).toBe(201);
  sourceId = created.body.id;
  expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: MAPPING })).status).toBe(200);
  worker = await startWorker();
});
afterAll(async () => {
  await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }).catch(() => {});
  await worker?.close();
});

describe("change streams", () => {
  it("refuses viewers, and a start while the source is snapshot-only or unmapped would say why", async () => {
    expect((await api("POST", `/sources/${sourceId}/stream`, { token: viewer, body: { action: "start" } })).status).toBe(403);
    const bad = await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start", cursor: "0/1" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toMatch(/cursor/);
  });

  it("hands a snapshot over to the stream: changes made during the snapshot and after it all arrive", async () => {
    const snap = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} });
    // Writes racing the snapshot: either the snapshot or the slot has them.
    await src.query("UPDATE items SET name = name || ' (during snapshot)' WHERE id % 7 = 0");
    await src.query("INSERT INTO items VALUES (1001, 'new during snapshot', '[1,2]', NULL)");
    await src.query("DELETE FROM events WHERE id = 3");
    await waitFor("snapshot", async () => (await api("GET", `/runs/${snap.body.run_id}`, { token: viewer })).body.status === "succeeded");

    // The spec's stream_changes request, as written, reads changes from the slot page by page
    // without moving it (the stream below still gets them).
    await src.query("UPDATE items SET name = name || ' (paged)' WHERE id % 7 = 0");
    await src.query("INSERT INTO items VALUES (1003, 'paged insert', '[1,2]', NULL)");
    await src.query("DELETE FROM events WHERE id = 4");
    const slotBefore = await confirmedFlush();
    const page = await api("POST", `/sources/${sourceId}/operations`, {
      token: editor,
      body: { operation: "connector.stream_changes", batch_size: 100, include_operations: ["insert", "update", "delete"] },
    });
    expect(page.status).toBe(200);
    const ops = page.body.changes.map((c: { operation: string; entity: string; key: unknown[] }) => `${c.operation} ${c.entity} ${JSON.stringify(c.key)}`);
    expect(ops).toContain("insert items [1003]");
    expect(ops).toContain("delete events [4]");
    const sevens = (await src.query("SELECT count(*)::int AS n FROM items WHERE id % 7 = 0 AND id <> 1003")).rows[0].n;
    expect(ops.filter((o: string) => o.startsWith("update items"))).toHaveLength(sevens);
    const inserted = page.body.changes.find((c: { operation: string }) => c.operation === "insert");
    expect(inserted.context.data).toMatchObject({ id: 1003, name: "paged insert", doc: "[1,2]" });
    expect(inserted.cursor).toMatch(/^pg_lsn:/);
    expect(Math.abs(Date.parse(inserted.committed_at) - Date.now())).toBeLessThan(60_000); // the commit's own time
    expect(page.body.cursor).toBe(page.body.changes[page.body.changes.length - 1].cursor);
    const onlyDeletes = await api("POST", `/sources/${sourceId}/operations`, { token: editor, body: { operation: "connector.stream_changes", include_operations: ["delete"] } });
    // (The delete made during the snapshot is here too when the slot existed before it ran.)
    const deletes = onlyDeletes.body.changes.map((c: { operation: string; key: unknown[] }) => `${c.operation} ${JSON.stringify(c.key)}`);
    expect(deletes).toContain("delete [4]");
    expect(deletes.every((d: string) => d.startsWith("delete "))).toBe(true);
    const after = await api("POST", `/sources/${sourceId}/operations`, { token: editor, body: { operation: "connector.stream_changes", cursor: page.body.cursor } });
    expect(after.body.changes).toEqual([]);
    expect(await confirmedFlush()).toBe(slotBefore);
    await startStream();
    // While the stream owns the slot, pages are refused with the reason.
    expect((await api("POST", `/sources/${sourceId}/operations`, { token: editor, body: { operation: "connector.stream_changes" } })).status).toBe(409);
    await src.query("INSERT INTO items VALUES (1002, 'after', '{\"a\": {\"b\": true}}', NULL)");
    await src.query("UPDATE items SET doc = '{\"changed\": 1}' WHERE id = 5");
    await src.query("DELETE FROM items WHERE id = 6");
    await src.query("INSERT INTO events VALUES (1001, 1002, 'created'), (1002, 1002, 'viewed')");
    await expectConverged("store to equal the source after the handoff");
    // A deleted row is a tombstone, not a live context.
    const tomb = await api("GET", `/contexts/item/6?include_deleted=true`, { token: viewer });
    expect(tomb.body.deleted).toBe(true);
    expect((await api("GET", `/contexts/item/6`, { token: viewer })).status).toBe(404);
  });

  it("reports status with cursor, lag and slot state, and never confirms past the stored cursor", async () => {
    await src.query("UPDATE items SET name = 'status check' WHERE id = 1");
    await expectConverged("update to arrive");
    const s = await waitFor("slot state", async () => {
      const st = await status();
      return st.stream.slot?.active ? st : undefined;
    });
    expect(s).toMatchObject({ state: "streaming", stream: { enabled: true, status: "streaming", slot: { exists: true, active: true, wal_status: "reserved" } } });
    expect(s.cursor).toMatch(/^pg_lsn:[0-9A-F]+\/[0-9A-F]+$/);
    expect(s.last_checkpoint_at).not.toBeNull();
    expect(typeof s.lag_bytes).toBe("number");
    // The sources list shows the same live state, lag and last checkpoint on every row.
    const listed = (await api("GET", "/sources", { token: viewer })).body.sources.find((x: { id: string }) => x.id === sourceId);
    expect(listed).toMatchObject({ state: "streaming", last_checkpoint_at: expect.any(String), lag_bytes: expect.any(Number) });
    // The API's cursor is the durable one. The server's other databases keep its WAL moving, so a
    // heartbeat may move the cursor between the two reads: read them until they meet.
    const cursor = await waitFor("the API's cursor to be the stored one", async () => {
      const shown = (await api("GET", `/sources/${sourceId}/cursor`, { token: viewer })).body.cursor as string;
      return shown === (await storedCursor()) ? shown : undefined;
    });
    expect(parseLsn((await confirmedFlush())!)).toBeLessThanOrEqual(parseLsnCursor((await storedCursor())!));
    // Moving the cursor is refused while the stream runs.
    expect((await api("PUT", `/sources/${sourceId}/cursor`, { token: editor, body: { cursor } })).status).toBe(409);
  });

  it("does not let the slot's confirmed position pass the durable cursor while the store is blocked (timer-acknowledgement trap)", async () => {
    // Block the stream's batch commits by holding its row lock for longer than the library's
    // default 10 s acknowledgement timer; meanwhile changes keep arriving from the server.
    const release = withDb(async (c) => {
      await c.query("BEGIN");
      await c.query("SELECT 1 FROM streams WHERE source_id = $1 FOR UPDATE", [sourceId]);
      await new Promise((r) => setTimeout(r, 12_000));
      await c.query("COMMIT");
    });
    let samples = 0;
    const sampling = (async () => {
      const deadline = Date.now() + 12_500;
      let i = 0;
      while (Date.now() < deadline) {
        await src.query("INSERT INTO events VALUES ($1, 1, 'blocked')", [5000 + i++]);
        const [confirmed, cursor] = [await confirmedFlush(), await storedCursor()];
        if (confirmed && cursor) {
          expect(parseLsn(confirmed)).toBeLessThanOrEqual(parseLsnCursor(cursor));
          samples++;
        }
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    await Promise.all([release, sampling]);
    expect(samples).toBeGreaterThan(20);
    await expectConverged("the blocked changes to arrive once the store is free");
  }, 60_000);

  it("keeps unchanged TOAST values: an update that does not touch a large column never nulls it", async () => {
    const big = (await src.query("SELECT string_agg(md5(g::text || random()::text), '') AS v FROM generate_series(1, 4000) g")).rows[0].v as string;
    await src.query("UPDATE items SET big = $1 WHERE id = 2", [big]);
    await expectConverged("large value to arrive");
    await src.query("UPDATE items SET name = 'renamed, big untouched' WHERE id = 2");
    await expectConverged("rename to arrive");
    const ctx = (await api("GET", "/contexts/item/2", { token: viewer })).body;
    expect(ctx.data.name).toBe("renamed, big untouched");
    expect(ctx.data.big).toBe(big);
    // Two such updates of one row in one transaction meet in one batch: the later one still keeps
    // the stored value (it once took the earlier update's missing field for "no value").
    await src.query("BEGIN; UPDATE items SET name = 'twice, 1' WHERE id = 2; UPDATE items SET name = 'twice, 2' WHERE id = 2; COMMIT");
    await expectConverged("both renames to arrive");
    const twice = (await api("GET", "/contexts/item/2", { token: viewer })).body;
    expect(twice.data.name).toBe("twice, 2");
    expect(twice.data.big).toBe(big);
  });

  it("applies TRUNCATE as deletes of every context of that table", async () => {
    await src.query("TRUNCATE events");
    await expectConverged("truncate to arrive");
    expect(await stored("event")).toEqual({});
    await src.query("INSERT INTO events VALUES (1, 1, 'after truncate')");
    await expectConverged("insert after truncate");
  });

  it("loses and duplicates nothing across restarts under back-to-back commits", async () => {
    const { run_id: runId } = (await status()).stream;
    await new Promise((r) => setTimeout(r, 1500)); // counters are saved every second
    const before = (await api("GET", `/runs/${runId}`, { token: viewer })).body.counters.read;
    const inserting = (async () => {
      for (let i = 0; i < 300; i++) await src.query("INSERT INTO events VALUES ($1, 2, 'burst')", [20_000 + i]);
    })();
    // Stop and restart the worker twice while single-row transactions commit back to back.
    for (let k = 0; k < 2; k++) {
      await new Promise((r) => setTimeout(r, 400));
      await worker!.close();
      worker = await startWorker();
    }
    await inserting;
    await expectConverged("every burst insert to arrive");
    const after = await waitFor("run counters to catch up", async () => {
      const r = (await api("GET", `/runs/${runId}`, { token: viewer })).body;
      return r.counters.read >= before + 300 ? r : undefined;
    });
    // Graceful stops write what they read and confirm it: nothing is delivered twice.
    expect(after.counters.read).toBe(before + 300);
    expect(after.status).toBe("running");
  }, 90_000);

  it("goes on through an added column (policy continue), pauses on one under policy pause until approved", async () => {
    await src.query("ALTER TABLE items ADD COLUMN extra text");
    await src.query("INSERT INTO items VALUES (2001, 'with extra column', NULL, NULL, 'x')");
    await expectConverged("insert after ADD COLUMN");

    await stopStream();
    await startStream({ schema_policy: "pause" });
    await src.query("ALTER TABLE events ADD COLUMN note text");
    await src.query("INSERT INTO events VALUES (3001, 1, 'held back', 'n')");
    const paused = await waitFor("pause", async () => ((await status()).state === "paused" ? status() : undefined));
    expect(paused.stream.pending_schema).toEqual({ entity: "events", added: ["note"], removed: [] });
    expect(paused.error.category).toBe("CONFIGURATION");
    expect((await stored("event"))["3001"]).toBeUndefined();
    await waitFor("an open alert naming the table", async () => {
      const alerts = (await api("GET", `/alerts?source_id=${sourceId}&status=open`, { token: viewer })).body.alerts;
      return alerts.some((a: { message: string; category: string }) => a.message.includes("events") && a.category === "CONFIGURATION");
    });

    expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "approve_schema" } })).status).toBe(202);
    await waitFor("streaming after approval", async () => (await status()).state === "streaming");
    await expectConverged("held-back insert after approval");
  }, 60_000);

  it("started behind a change of columns (policy pause), applies what came before it, pauses at it, and goes on after one approval", async () => {
    await stopStream();
    await src.query("INSERT INTO events VALUES (3101, 2, 'before the change', 'n')");
    await src.query("ALTER TABLE events ADD COLUMN mood text");
    await src.query("INSERT INTO events VALUES (3102, 2, 'after the change', 'n', 'happy')");
    expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start", schema_policy: "pause" } })).status).toBe(202);
    const paused = await waitFor("pause", async () => ((await status()).state === "paused" ? status() : undefined));
    expect(paused.stream.pending_schema).toEqual({ entity: "events", added: ["mood"], removed: [] });
    // The change made under the old columns was applied before the pause; the one under the new ones was not.
    expect((await stored("event"))["3101"]).toEqual({ item: 2, kind: "before the change" });
    expect((await stored("event"))["3102"]).toBeUndefined();
    expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "approve_schema" } })).status).toBe(202);
    await waitFor("streaming after one approval", async () => (await status()).state === "streaming");
    await expectConverged("the change after the ALTER, once approved");
    expect((await status()).state).toBe("streaming"); // no second pause on the same change
    await stopStream();
    await startStream({ schema_policy: "continue" });
  }, 60_000);

  it("with hard deletes removes deleted rows' contexts, keeping tombstones only while a snapshot runs", async () => {
    await stopStream();
    const patched = await api("PATCH", `/sources/${sourceId}`, { token: editor, body: { config: { ...src.config, options: { ...src.config.options, deletes: "hard" } } } });
    expect(patched.status).toBe(200);
    const rowsOf = async (id: string) =>
      withDb(async (c) => (await c.query<{ deleted: boolean }>("SELECT deleted FROM contexts WHERE context_type = 'item' AND context_id = $1", [id])).rows);
    const tombstones = async () => withDb(async (c) => Number((await c.query("SELECT count(*) FROM contexts WHERE source_id = $1 AND deleted", [sourceId])).rows[0].count));
    await src.query("DELETE FROM items WHERE id = 7");
    await startStream();
    // Tombstones from before (earlier deletes, TRUNCATE) and the delete made while stopped are gone.
    await waitFor("the delete made while stopped to be purged", async () => (await rowsOf("7")).length === 0);
    expect(await tombstones()).toBe(0);

    await src.query("DELETE FROM items WHERE id = 8");
    await waitFor("the streamed delete to remove the context", async () => (await rowsOf("8")).length === 0);
    await expectConverged("hard delete");

    // A snapshot or a dead-letter replay in progress could write a row it read before the delete:
    // the tombstone stays until it ends.
    for (const [kind, id] of [["snapshot", "9"], ["replay", "10"]] as const) {
      const run = await withDb(async (c) => (await c.query("INSERT INTO runs (id, source_id, kind, status) VALUES (gen_random_uuid(), $1, $2, 'running') RETURNING id", [sourceId, kind])).rows[0].id);
      await src.query("DELETE FROM items WHERE id = $1", [Number(id)]);
      await waitFor(`a tombstone while the ${kind} runs`, async () => (await rowsOf(id))[0]?.deleted === true);
      await withDb((c) => c.query("UPDATE runs SET status = 'succeeded' WHERE id = $1", [run]));
      expect(await purgeTombstonesOf(sourceId)).toBe(1); // what snapshot.finish does
      expect(await rowsOf(id)).toEqual([]);
    }

    // The row comes back at the source: its context comes back.
    await src.query("INSERT INTO items (id, name, doc) VALUES (8, 'back again', '{}')");
    await expectConverged("re-inserted row");
  });

  it("stops with a CONFIGURATION error and an alert when a mapped column is dropped", async () => {
    await src.query("ALTER TABLE items DROP COLUMN doc");
    await src.query("UPDATE items SET name = 'after drop' WHERE id = 1");
    const failed = await waitFor("failure", async () => ((await status()).state === "failed" ? status() : undefined));
    expect(failed.error.category).toBe("CONFIGURATION");
    expect(failed.error.message).toMatch(/doc.*dropped/);
    expect(failed.stream.enabled).toBe(false);
    // The run is closed just after the stream's state flips.
    const run = await waitFor("the run to be closed", async () => {
      const r = (await api("GET", `/runs/${failed.stream.run_id}`, { token: viewer })).body;
      return r.status !== "running" ? r : undefined;
    });
    expect(run).toMatchObject({ status: "failed", error: { category: "CONFIGURATION" } });
  });
});
