// The demo source snapshotted through a mapping like the spec's example into the context store,
// checked against the source row by row; idempotent replays, ordering by position, collisions,
// resume after an interrupted snapshot, and the mapping/preview/contexts API.
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { pgPool } from "../../server/db.ts";
import { runSnapshot } from "../../server/pipeline/snapshot.ts";
import { JsonText } from "../../server/json/json-text.ts";
import { InsertHint, writeContexts } from "../../server/store/contexts.ts";
import { createRun } from "../../server/store/runs.ts";
import { api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { registerDemoSource } from "../support/demo.ts";

const MAPPING = {
  mappings: [
    {
      source: { table: "customers" },
      target: { context_type: "customer-context" },
      fields: [
        { source: "customer_id", target: "context_id" },
        { source: "email", target: "data.email" },
        { source: "preferences", target: "data.preferences", transform: "json_parse" },
        { target: "data.name", transform: { name: "template", template: "{first_name} {last_name}" } },
        { source: "country", target: "data.address.country", transform: "lowercase" },
      ],
    },
    {
      source: { table: "order_items" },
      target: { context_type: "order-line" },
      fields: [
        { target: "context_id", transform: { name: "template", template: "{order_id}-{line_no}" } },
        { source: "quantity", target: "data.quantity" },
        { source: "unit_price", target: "data.unit_price", transform: "number" },
      ],
    },
  ],
};

let sourceId: string;
let editor: string;
let viewer: string;
let demoUrl: string;

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints"));
  const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
  editor = (await createToken({ name: "e", role: "editor" }, system)).token;
  viewer = (await createToken({ name: "v", role: "viewer" }, system)).token;
  ({ sourceId, url: demoUrl } = await registerDemoSource("demo", editor));
});

async function demo<T>(fn: (c: pg.Client) => Promise<T>) {
  const c = new pg.Client({ connectionString: demoUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe("saving a mapping", () => {
  it("refuses an invalid document with field paths and saves nothing", async () => {
    const bad = { mappings: [{ ...MAPPING.mappings[0]!, fields: [{ source: "emial", target: "data.email" }, { source: "customer_id", target: "data.id", transform: "json_parse" }] }] };
    const r = await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: bad });
    expect(r.status).toBe(400);
    expect(r.body.error.issues.map((i: { path: string }) => i.path)).toEqual(["mappings[0].fields[0].source", "mappings[0].fields[1].transform", "mappings[0].fields"]);
    expect((await api("GET", `/sources/${sourceId}/mappings`, { token: viewer })).body).toEqual({ version: 0, mappings: [] });
  });

  it("saves the spec's format as numbered versions; viewers may not save", async () => {
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: viewer, body: MAPPING })).status).toBe(403);
    const r = await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: MAPPING });
    expect(r.status).toBe(200);
    expect(r.body.version).toBe(1);
    expect((await api("GET", `/sources/${sourceId}/mappings`, { token: viewer })).body).toEqual({ version: 1, mappings: MAPPING.mappings });
  });
});

describe("preview", () => {
  it("shows raw rows, mapped contexts and per-field errors for the saved mapping", async () => {
    const r = await api("POST", `/sources/${sourceId}/preview`, { token: viewer, body: { entity: "customers", limit: 100 } });
    expect(r.status).toBe(200);
    expect(r.body.version).toBe(1);
    const ok = r.body.records[0];
    expect(ok.context).toMatchObject({ context_type: "customer-context", context_id: "1", data: { email: "customer1@example.com", address: { country: "fr" } } });
    const broken = r.body.records.find((x: { source: { customer_id: number } }) => x.source.customer_id === 97);
    expect(broken.context).toBeNull();
    expect(broken.errors).toEqual([{ field: "data.preferences", category: "DATA", message: expect.stringMatching(/json_parse failed: invalid JSON/) }]);
  });

  it("previews a draft without saving it, validating it first", async () => {
    const draft = [{ source: { table: "products" }, target: { context_type: "product" }, fields: [{ source: "product_id", target: "context_id" }, { source: "sku", target: "data.sku", transform: "lowercase" }] }];
    const r = await api("POST", `/sources/${sourceId}/preview`, { token: viewer, body: { entity: "products", limit: 3, mappings: draft } });
    expect(r.body.records.map((x: { context: { data: { sku: string } } }) => x.context.data.sku)).toEqual(["sku-00001", "sku-00002", "sku-00003"]);
    expect(r.body.version).toBeNull();
    const bad = await api("POST", `/sources/${sourceId}/preview`, { token: viewer, body: { entity: "products", mappings: [{ ...draft[0], fields: [{ source: "nope", target: "context_id" }] }] } });
    expect(bad.body.error.issues[0].path).toBe("mappings[0].fields[0].source");
    expect((await api("GET", `/sources/${sourceId}/mappings`, { token: viewer })).body.version).toBe(1);
  });
});

describe("snapshot into the context store", () => {
  it("writes every mappable row, and exactly the unmappable ones are DATA errors", async () => {
    const result = await runSnapshot(sourceId);
    const itemCount = await demo(async (c) => Number((await c.query("SELECT count(*) FROM order_items")).rows[0].count));
    expect(result.read).toBe(2000 + itemCount);
    const broken = await demo(async (c) => (await c.query("SELECT customer_id::text AS id FROM customers WHERE customer_id % 97 = 0 ORDER BY 1")).rows.map((r) => r.id));
    expect(result.errors.map((e) => e.key[0]).sort()).toEqual([...broken].sort());
    for (const e of result.errors) expect(e).toMatchObject({ entity: "customers", field: "data.preferences", transform: "json_parse", category: "DATA" });
    expect(result.written).toBe(2000 - broken.length + itemCount);
    expect(result.collisions).toEqual([]);
  });

  it("the store equals the source under the mapping, row by row", async () => {
    const source = await demo(async (c) => (await c.query("SELECT customer_id, email, preferences, first_name, last_name, country FROM customers ORDER BY customer_id")).rows);
    const stored = new Map(
      (await pgPool().query("SELECT context_id, data FROM contexts WHERE context_type = 'customer-context'")).rows.map((r) => [r.context_id as string, r.data]),
    );
    let checked = 0;
    for (const row of source) {
      let preferences: unknown;
      try {
        preferences = row.preferences === null ? null : JSON.parse(row.preferences);
      } catch {
        expect(stored.has(String(row.customer_id))).toBe(false); // a DATA error, not a half-written context
        continue;
      }
      expect(stored.get(String(row.customer_id))).toEqual({
        email: row.email,
        preferences,
        name: `${row.first_name} ${row.last_name}`,
        address: { country: row.country.toLowerCase() },
      });
      checked++;
    }
    expect(checked).toBe(stored.size);
    const items = await demo(async (c) => (await c.query("SELECT order_id, line_no, quantity, unit_price::text FROM order_items")).rows);
    const lines = new Map((await pgPool().query("SELECT context_id, data FROM contexts WHERE context_type = 'order-line'")).rows.map((r) => [r.context_id as string, r.data]));
    expect(lines.size).toBe(items.length);
    for (const it of items) expect(lines.get(`${it.order_id}-${it.line_no}`)).toEqual({ quantity: it.quantity, unit_price: Number(it.unit_price) });
  });

  it("resumes an interrupted snapshot after its last checkpoint", async () => {
    const interruptedRun = (await createRun({ sourceId, kind: "snapshot", request: {}, createdBy: "test" })).id;
    let chunks = 0;
    await expect(
      runSnapshot(sourceId, {
        runId: interruptedRun,
        entities: ["order_items"],
        batchSize: 1000,
        commitRows: 1000, // a commit per page: the third commit is the third page
        onChunk: () => {
          if (++chunks === 3) throw new Error("worker died");
        },
      }),
    ).rejects.toThrow("worker died");
    // Chunks commit two at once: the one after the third may have committed too.
    const checkpoint = (await pgPool().query("SELECT rows_done::int AS rows FROM snapshot_checkpoints WHERE source_id = $1 AND entity = 'order_items'", [sourceId])).rows[0];
    expect(checkpoint.rows).toBeGreaterThanOrEqual(3000);
    // The same run, taken up again (its worker died): it resumes its own pass after its checkpoint.
    const resumed = await runSnapshot(sourceId, { runId: interruptedRun, entities: ["order_items"], batchSize: 1000 });
    const total = await demo(async (c) => Number((await c.query("SELECT count(*) FROM order_items")).rows[0].count));
    expect(resumed.entities[0]!.resumed_after).not.toBeNull();
    expect(resumed.read).toBe(total - checkpoint.rows);
  });
  it("never finishes a pass over chunks the store lost, and resumes from what the store holds", async () => {
    const run = (await createRun({ sourceId, kind: "snapshot", request: {}, createdBy: "test" })).id;
    const checkpoint = async () => (await pgPool().query("SELECT pass::text, last_key, rows_done::int FROM snapshot_checkpoints WHERE source_id = $1 AND entity = 'order_items'", [sourceId])).rows[0];
    let chunks = 0;
    let first: { pass: string; last_key: string[]; rows_done: number; ids: string[] } | null = null;
    // Chunks commit two at once, so their callbacks may overlap: taken one at a time, in order.
    let inOrder: Promise<void> = Promise.resolve();
    const loseCommits = () => (inOrder = inOrder.then(loseCommit));
    const loseCommit = async () => {
      if (++chunks === 1) {
        const at = await checkpoint();
        const ids = (await pgPool().query("SELECT context_id FROM contexts WHERE context_type = 'order-line' AND snapshot_pass = $1", [at.pass])).rows.map((r) => r.context_id as string);
        first = { ...at, ids };
      }
      if (chunks === 3) {
        // What a store crash before its WAL reached the disk does: the later chunks' contexts and
        // checkpoint are gone together, and the worker, reconnecting, never hears of it.
        await pgPool().query("DELETE FROM contexts WHERE context_type = 'order-line' AND snapshot_pass = $1 AND NOT (context_id = ANY($2::text[]))", [first!.pass, first!.ids]);
        await pgPool().query("UPDATE snapshot_checkpoints SET last_key = $2, rows_done = $3, ahead = '[]' WHERE source_id = $1 AND entity = 'order_items'", [sourceId, first!.last_key, first!.rows_done]);
      }
    };
    await expect(runSnapshot(sourceId, { runId: run, entities: ["order_items"], batchSize: 500, commitRows: 500, onChunk: loseCommits })).rejects.toThrow(/read further than its checkpoint/);
    expect((await pgPool().query("SELECT done FROM snapshot_checkpoints WHERE source_id = $1 AND entity = 'order_items'", [sourceId])).rows[0].done).toBe(false);
    // Taken up again, the run reads from the checkpoint (chunks committed past the gap forgotten) and the store equals the source.
    const resumed = await runSnapshot(sourceId, { runId: run, entities: ["order_items"], batchSize: 500 });
    const items = await demo(async (c) => (await c.query("SELECT order_id, line_no FROM order_items")).rows);
    expect(resumed.read).toBe(items.length - first!.rows_done);
    const live = new Set((await pgPool().query("SELECT context_id FROM contexts WHERE context_type = 'order-line' AND NOT deleted")).rows.map((r) => r.context_id as string));
    expect(live.size).toBe(items.length);
    for (const it of items) expect(live.has(`${it.order_id}-${it.line_no}`)).toBe(true);
  });
});

describe("store writes are idempotent and ordered", () => {
  const row = (data: object, position: bigint, cursor: string | null = null) => ({ context_type: "probe", context_id: "p1", data: data as never, entity: "probe_table", position, cursor, deleted: false });
  const stored = async () => (await pgPool().query("SELECT data, position::text, updated_at FROM contexts WHERE context_type = 'probe' AND context_id = 'p1'")).rows[0];

  it("replaying a batch twice changes nothing", async () => {
    expect((await writeContexts(pgPool(), sourceId, 1, [row({ v: 1 }, 0n)], { generation: 0, snapshot: true })).written).toBe(1);
    const first = await stored();
    expect((await writeContexts(pgPool(), sourceId, 1, [row({ v: 1 }, 0n)], { generation: 0, snapshot: true })).written).toBe(0);
    expect(await stored()).toEqual(first);
  });

  it("an older change replayed after a newer one is ignored; a snapshot row never overwrites a change", async () => {
    await writeContexts(pgPool(), sourceId, 1, [row({ v: "new" }, 200n, "pg_lsn:0/C8")], { generation: 0, snapshot: false });
    expect((await writeContexts(pgPool(), sourceId, 1, [row({ v: "old" }, 100n, "pg_lsn:0/64")], { generation: 0, snapshot: false })).written).toBe(0);
    expect((await writeContexts(pgPool(), sourceId, 1, [row({ v: "snapshot" }, 0n)], { generation: 0, snapshot: true })).written).toBe(0);
    expect((await stored()).data).toEqual({ v: "new" });
    expect((await writeContexts(pgPool(), sourceId, 1, [row({ v: "newer" }, 300n, "pg_lsn:0/12C")], { generation: 0, snapshot: false })).written).toBe(1);
    expect((await stored()).data).toEqual({ v: "newer" });
  });

  it("reports context ids that collide across entities of one context type, and refuses \\u0000 per record", async () => {
    const r = await writeContexts(
      pgPool(),
      sourceId,
      1,
      [{ ...row({ v: 1 }, 0n), entity: "other_table" }, { ...row({ bad: "a\u0000b" }, 0n), context_id: "p2" }, { ...row({ fine: true }, 0n), context_id: "p3" }],
      { generation: 0, snapshot: true },
    );
    expect(r.collisions).toEqual([{ context_type: "probe", context_id: "p1", held_by: "probe_table", held_by_source: expect.any(String) }]);
    expect(r.rejected).toEqual([{ context_type: "probe", context_id: "p2", message: expect.stringMatching(/u0000/) }]);
    expect(r.written).toBe(1);
  });
});

describe("the COPY path for rows new to the store", () => {
  const inTx = async <T>(fn: (c: import("pg").PoolClient) => Promise<T>): Promise<T> => {
    const c = await pgPool().connect();
    try {
      await c.query("BEGIN");
      const r = await fn(c);
      await c.query("COMMIT");
      return r;
    } finally {
      c.release();
    }
  };
  const fresh = (id: string, data: object, position: bigint, entity = "copy_table") => ({ context_type: "copy-probe", context_id: id, data: data as never, entity, position, cursor: "pg_lsn:0/1", deleted: false });
  const read = async (id: string) => (await pgPool().query("SELECT data, position::text, cursor, entity FROM contexts WHERE context_type = 'copy-probe' AND context_id = $1", [id])).rows[0];

  it("stores tabs, newlines, backslashes and unicode in ids and data exactly", async () => {
    const hint = new InsertHint();
    const awkward = { text: "tab\there\nnew line\\ back\\slash \r é 😀", nested: { quote: '"q"', path: "C:\\dir" } };
    const r = await inTx((c) => writeContexts(c, sourceId, 1, [fresh("id\twith\\odd\nchars", awkward, 5n), fresh("plain", { n: 1 }, 5n)], { generation: 0, snapshot: false, hint }));
    expect(r).toEqual({ written: 2, writtenByEntity: new Map([["copy_table", 2]]), collisions: [], rejected: [] });
    expect(await read("id\twith\\odd\nchars")).toEqual({ data: awkward, position: "5", cursor: "pg_lsn:0/1", entity: "copy_table" });
    expect(hint.worthTrying).toBe(true); // no miss: the COPY took them
  });

  it("falls back to the upsert when a key exists: the position guard and collision report still hold", async () => {
    await inTx((c) => writeContexts(c, sourceId, 1, [fresh("held", { v: "newer" }, 900n)], { generation: 0, snapshot: false }));
    await inTx((c) => writeContexts(c, sourceId, 1, [fresh("theirs", { v: 1 }, 1n, "another_table")], { generation: 0, snapshot: false }));
    const hint = new InsertHint();
    const r = await inTx((c) => writeContexts(c, sourceId, 1, [fresh("new-1", { v: 1 }, 500n), fresh("held", { v: "older" }, 500n), fresh("theirs", { v: 2 }, 500n)], { generation: 0, snapshot: false, hint }));
    expect(r.written).toBe(1);
    expect(r.collisions).toEqual([{ context_type: "copy-probe", context_id: "theirs", held_by: "another_table", held_by_source: expect.any(String) }]);
    expect((await read("held")).data).toEqual({ v: "newer" });
    expect((await read("new-1")).data).toEqual({ v: 1 });
    expect(hint.worthTrying).toBe(false); // after a miss the next batches go straight to the upsert
  });
});

describe("browsing contexts", () => {
  it("pages by cursor and fetches one context; absent ones are 404", async () => {
    const first = await api("GET", "/contexts?context_type=customer-context&limit=50", { token: viewer });
    expect(first.body.contexts).toHaveLength(50);
    const second = await api("GET", `/contexts?context_type=customer-context&limit=50&cursor=${first.body.next_cursor}`, { token: viewer });
    expect(second.body.contexts[0].context_id > first.body.contexts[49].context_id).toBe(true);
    const one = await api("GET", "/contexts/customer-context/1", { token: viewer });
    expect(one.body).toMatchObject({ context_type: "customer-context", context_id: "1", source_id: sourceId, entity: "customers", deleted: false, mapping_version: 1 });
    expect((await api("GET", "/contexts/customer-context/97", { token: viewer })).status).toBe(404);
    expect((await api("GET", "/contexts/customer-context/1")).status).toBe(401);
  });
});

describe("a large value carried as its JSON text (json/json-text.ts)", () => {
  // Longer than the writer's COPY slice (2^20 characters), with an emoji's surrogate pair across
  // the slice boundary (`{"s":"x` is 7 characters: every high surrogate stands at an odd index,
  // 2^20 − 1 among them), and escapes that COPY must double (backslashes) beside them.
  const text = JSON.stringify({ s: "x" + "😀".repeat(700_000), esc: 'tab\t "quote" back\\slash', n: [1, 2.5, null] });
  const other = JSON.stringify({ s: "a😀".repeat(500_000), changed: true });
  const write = async (rows: object[], hint?: InsertHint) => {
    const client = await pgPool().connect();
    try {
      await client.query("BEGIN");
      const result = await writeContexts(client, sourceId, 1, rows as never, { generation: 0, snapshot: false, hint });
      await client.query("COMMIT");
      return result;
    } finally {
      client.release();
    }
  };
  const row = (id: string, data: object | null, position: bigint, deleted = false) => ({ context_type: "large-probe", context_id: id, data, entity: "large_table", position, cursor: null, deleted });
  const stored = async (id: string) => (await pgPool().query("SELECT data->'body' AS body, deleted FROM contexts WHERE context_type = 'large-probe' AND context_id = $1", [id])).rows[0];

  it("is written exactly by the first load's COPY, then by the staged upsert, beside ordinary rows and a delete", async () => {
    expect((await write([row("a", { body: new JsonText(text) }, 10n), row("b", { body: 1 }, 10n)], new InsertHint())).written).toBe(2);
    expect((await stored("a")).body).toEqual(JSON.parse(text));
    const result = await write([row("a", { body: new JsonText(other), kept: "x" }, 20n), row("b", null, 20n, true), row("c", { body: new JsonText(text) }, 20n)]);
    expect(result.written).toBe(3);
    expect((await stored("a")).body).toEqual(JSON.parse(other));
    expect((await stored("b")).deleted).toBe(true);
    expect((await stored("c")).body).toEqual(JSON.parse(text));
    // Replayed: nothing newer, nothing written (the staged rows go through the same guarded upsert).
    expect((await write([row("a", { body: new JsonText(text) }, 20n)])).written).toBe(0);
    expect((await stored("a")).body).toEqual(JSON.parse(other));
  });

  it("as UTF-8 bytes (a change stream's): written exactly, raw tabs and newlines and a character split across slices included", async () => {
    // json (not jsonb) keeps whitespace as typed: raw tab, CR and LF, which COPY must escape; 'é'
    // is two bytes, so 1 MiB slices cut through some of them.
    const typed = '{\n\t"s": "' + "é".repeat(600_000) + '",\r\n "path": "C:\\\\dir"}';
    const result = await write([row("bytes-1", { body: new JsonText(Buffer.from(typed)) }, 40n)], new InsertHint());
    expect(result.written).toBe(1);
    expect((await stored("bytes-1")).body).toEqual(JSON.parse(typed));
    const update = await write([row("bytes-1", { body: new JsonText(Buffer.from(text)) }, 41n)]);
    expect(update.written).toBe(1);
    expect((await stored("bytes-1")).body).toEqual(JSON.parse(text));
  });

  it("keeps stored fields (unchanged TOAST values) in a staged batch: merged by the store, removed where it holds none", async () => {
    await write([row("kept-1", { body: new JsonText(other), label: "first" }, 50n)]);
    const keepRow = (id: string, label: string) => ({ ...row(id, { body: null, label }, 51n), keep: [["body"]] });
    // A large value in the same batch sends every row through the staging table.
    const result = await write([keepRow("kept-1", "second"), keepRow("kept-none", "new"), row("kept-big", { body: new JsonText(Buffer.from(text)) }, 51n)]);
    expect(result.written).toBe(3);
    const full = async (id: string) => (await pgPool().query("SELECT data FROM contexts WHERE context_type = 'large-probe' AND context_id = $1", [id])).rows[0].data;
    expect(await full("kept-1")).toEqual({ body: JSON.parse(other), label: "second" });
    expect(await full("kept-none")).toEqual({ label: "new" });
    expect((await full("kept-big")).body).toEqual(JSON.parse(text));
  });

  it("holding U+0000 is refused as that record's DATA error, the rest of the batch written (the text \\u0000 is not U+0000)", async () => {
    const result = await write([row("nul", { body: new JsonText('"a\\u0000b"') }, 30n), row("d", { body: new JsonText(text) }, 30n), row("six-characters", { body: "see \\u0000" }, 30n)]);
    expect(result.rejected.map((r) => r.context_id)).toEqual(["nul"]);
    expect(result.written).toBe(2);
    expect((await stored("six-characters")).body).toBe("see \\u0000");
    expect((await stored("d")).body).toEqual(JSON.parse(text));
  });
});
