// What one caller can ask of a source through the public API is bounded (second security pass,
// finding 2): interactive connector sessions per source in each web process (429 with Retry-After
// beyond ECM_SOURCE_SESSIONS), rows and bytes per page, and a changes page never holding one huge
// transaction whole.
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { runSnapshot } from "../../server/pipeline/snapshot.ts";
import { adminToken, api } from "../support/http.ts";
import { resetMetadata } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";

let sourceId: string;
let viewer: string;
let editor: string;
let db: Awaited<ReturnType<typeof createSourceDatabase>>;

beforeAll(async () => {
  await resetMetadata();
  db = await createSourceDatabase(
    "ecm_src_limits",
    `CREATE TABLE items (item_id int PRIMARY KEY, name text NOT NULL);
     INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 5000) i;
     CREATE TABLE wide (id int PRIMARY KEY, pad text NOT NULL);`,
  );
  const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
  viewer = (await createToken({ name: "v", role: "viewer" }, system)).token;
  editor = (await createToken({ name: "e", role: "editor" }, system)).token;
  const created = await api("POST", "/sources", { token: adminToken(), body: { name: "limits", config: db.config } });
  expect(created.status, created.text).toBe(201);
  sourceId = created.body.id;
});

describe("a viewer hammering a source", () => {
  it("gets 429 with Retry-After beyond the session bound, while the source still takes its own clients and the web process answers", async () => {
    const calls = Array.from({ length: 300 }, () => api("GET", `/sources/${sourceId}/entities`, { token: viewer }));
    // While the 300 calls are in flight: the source's own application can still connect.
    const own = new pg.Client({ connectionString: db.url });
    await own.connect();
    expect((await own.query("SELECT 1 AS ok")).rows[0].ok).toBe(1);
    await own.end();
    expect((await api("GET", "/health")).status).toBe(200);
    const answers = await Promise.all(calls);
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 200 || s === 429), JSON.stringify([...new Set(statuses)])).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(250);
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.body.error.message).toMatch(/ECM_SOURCE_SESSIONS/);
    // Once they are done, the source answers as before.
    expect((await api("GET", `/sources/${sourceId}/entities`, { token: viewer })).status).toBe(200);
  });

  it("serves extract_snapshot in pages of at most 1000 rows, whatever batch_size asks, and the cursor goes on from there", async () => {
    const first = await api("POST", `/sources/${sourceId}/operations`, { token: viewer, body: { operation: "connector.extract_snapshot", entity: "items", batch_size: 10_000 } });
    expect(first.status, first.text).toBe(200);
    expect(first.body.contexts).toHaveLength(1000);
    expect(first.body.cursor).toEqual(expect.any(String));
    const second = await api("POST", `/sources/${sourceId}/operations`, { token: viewer, body: { operation: "connector.extract_snapshot", entity: "items", batch_size: 10_000, cursor: first.body.cursor } });
    expect(second.body.contexts[0].source.key).toEqual(["1001"]);
  });
});

describe("a changes page", () => {
  it("refuses one transaction larger than the page's byte budget, saying the stream reads it", async () => {
    const mapping = { mappings: [{ source: { table: "wide" }, target: { context_type: "wide" }, fields: [{ source: "id", target: "context_id" }, { source: "pad", target: "data.pad" }] }] };
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping })).status).toBe(200);
    await runSnapshot(sourceId); // makes the capture
    const before = (await api("POST", `/sources/${sourceId}/operations`, { token: editor, body: { operation: "connector.stream_changes", batch_size: 10 } })).body.cursor;
    await db.query("INSERT INTO wide SELECT i, repeat('x', 1000) FROM generate_series(1, 6000) i"); // ~6 MB in one transaction
    const r = await api("POST", `/sources/${sourceId}/operations`, { token: editor, body: { operation: "connector.stream_changes", cursor: before, batch_size: 10 } });
    expect(r.status, r.text.slice(0, 300)).toBe(400);
    expect(r.body.error.message).toMatch(/more than 4 MiB of changes: too large for one page.*start the stream/);
  });
});
