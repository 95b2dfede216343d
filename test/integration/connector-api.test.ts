// The connector endpoints of the public API on a registered source: health, capabilities,
// discovery and the spec's operation envelope, with roles and secrets handled as everywhere.
import { beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { addLogSink } from "../../server/logger.ts";
import { api } from "../support/http.ts";
import { resetMetadata } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";

let sourceId: string;
let viewer: string;
let editor: string;
let realPassword: string;
let db: Awaited<ReturnType<typeof createSourceDatabase>>;

beforeAll(async () => {
  await resetMetadata();
  db = await createSourceDatabase(
    "ecm_src_api",
    `CREATE TABLE items (item_id int PRIMARY KEY, name text NOT NULL, meta jsonb);
     INSERT INTO items SELECT i, 'item ' || i, jsonb_build_object('i', i) FROM generate_series(1, 25) i; ANALYZE items;`,
  );
  const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
  viewer = (await createToken({ name: "v", role: "viewer" }, system)).token;
  editor = (await createToken({ name: "e", role: "editor" }, system)).token;
  realPassword = decodeURIComponent(new URL(process.env.TEST_SERVER_URL!).password);
  // The password typed in (stored encrypted as secret://…) is what the connector must use.
  const { username } = db.config.authentication;
  const created = await api("POST", "/sources", {
    token: editor,
    body: { name: "api-source", config: { ...db.config, authentication: { type: "credentials", username, password: realPassword } } },
  });
  expect(created.status).toBe(201);
  sourceId = created.body.id;
});

describe("connector endpoints", () => {
  it("runs the health checks with the decrypted secret, and never shows it", async () => {
    const lines: string[] = [];
    const remove = addLogSink((l) => lines.push(l));
    try {
      const r = await api("POST", `/sources/${sourceId}/health`, { token: viewer });
      expect(r.status).toBe(200);
      expect(r.body.status).toBe("healthy");
      expect(r.body.checks.map((c: { name: string }) => c.name)).toContain("wal_level");
      expect(r.text).not.toContain(realPassword);
    } finally {
      remove();
    }
    expect(lines.join("\n")).not.toContain(realPassword);
  });

  it("checks SELECT on the mapped tables once a mapping exists", async () => {
    // A reader that may read items but not audit_log: before a mapping every table counts (warn),
    // afterwards only the mapped one does (pass).
    await db.query(`CREATE TABLE IF NOT EXISTS audit_log (id int PRIMARY KEY)`);
    await db.query(`DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'items_reader') THEN DROP OWNED BY items_reader; DROP ROLE items_reader; END IF; END $$`);
    await db.query(`CREATE ROLE items_reader LOGIN REPLICATION PASSWORD 'items-reader-pw'; GRANT SELECT ON items TO items_reader`);
    const reader = await api("POST", "/sources", {
      token: editor,
      body: { name: "items-reader", config: { ...db.config, authentication: { type: "credentials", username: "items_reader", password: "items-reader-pw" } } },
    });
    const check = async () => (await api("POST", `/sources/${reader.body.id}/health`, { token: viewer })).body.checks.find((c: { name: string }) => c.name === "select_privilege");
    expect(await check()).toMatchObject({ status: "warn", message: expect.stringMatching(/audit_log/) });
    const mapping = { mappings: [{ source: { table: "items" }, target: { context_type: "item" }, fields: [{ source: "item_id", target: "context_id" }] }] };
    expect((await api("PUT", `/sources/${reader.body.id}/mappings`, { token: editor, body: mapping })).status).toBe(200);
    expect(await check()).toMatchObject({ status: "pass", message: "SELECT granted on 1 table" });
    await db.query("DROP TABLE audit_log"); // the other tests expect items alone
  });

  it("answers capabilities, entities and one entity's schema", async () => {
    const caps = await api("GET", `/sources/${sourceId}/capabilities`, { token: viewer });
    expect(caps.body).toMatchObject({ connector_type: "postgresql", snapshot: true, cursor_format: "pg_lsn:X/Y" });
    const list = await api("GET", `/sources/${sourceId}/entities`, { token: viewer });
    expect(list.body.entities).toEqual([expect.objectContaining({ name: "items", kind: "table", primary_key: ["item_id"], row_estimate: 25, cdc: true })]);
    const one = await api("GET", `/sources/${sourceId}/entities/items`, { token: viewer });
    expect(one.body).toMatchObject({ name: "items", primary_key: ["item_id"], replica_identity: "default" });
    expect(one.body.columns.map((c: { name: string; type: string }) => `${c.name}:${c.type}`)).toEqual(["item_id:integer", "name:text", "meta:jsonb"]);
    expect((await api("GET", `/sources/${sourceId}/entities/missing`, { token: viewer })).status).toBe(404);
  });

  it("requires credentials", async () => {
    expect((await api("GET", `/sources/${sourceId}/entities`)).status).toBe(401);
    expect((await api("POST", `/sources/${sourceId}/operations`, { body: { operation: "connector.list_entities" } })).status).toBe(401);
  });
});

describe("the spec's operation envelope", () => {
  const op = (body: unknown, token = viewer) => api("POST", `/sources/${sourceId}/operations`, { token, body });

  it("serves list_entities, describe_entity, health_check and get_capabilities", async () => {
    expect((await op({ operation: "connector.list_entities" })).body.entities[0].name).toBe("items");
    expect((await op({ operation: "connector.describe_entity", entity: "items" })).body.columns).toHaveLength(3);
    expect((await op({ operation: "connector.health_check" })).body.status).toBe("healthy");
    expect((await op({ operation: "connector.get_capabilities" })).body.connector_type).toBe("postgresql");
  });

  it("pages extract_snapshot with a cursor until null, every row once", async () => {
    const ids: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await op({ operation: "connector.extract_snapshot", entity: "items", batch_size: 10, ...(cursor ? { cursor } : {}) });
      expect(r.status).toBe(200);
      ids.push(...r.body.contexts.map((c: { data: { item_id: number } }) => c.data.item_id));
      cursor = r.body.cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(ids).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it("validates the envelope with field paths", async () => {
    const r = await op({ operation: "connector.describe_entity" });
    expect(r.status).toBe(400);
    expect(r.body.error.issues[0].path).toBe("entity"); // the field as the envelope holds it
    const unknown = await op({ operation: "connector.drop_everything" });
    expect(unknown.status).toBe(400);
    const badCursor = await op({ operation: "connector.stream_changes", cursor: "0/16B3748" }, editor);
    expect(badCursor.body.error.issues[0]).toMatchObject({ path: "cursor", message: expect.stringMatching(/pg_lsn:/) });
  });

  it("keeps stream_changes to editors, and says what is missing before a mapping exists", async () => {
    expect((await op({ operation: "connector.stream_changes", cursor: "pg_lsn:0/16B3748" })).status).toBe(403);
    const r = await op({ operation: "connector.stream_changes", cursor: "pg_lsn:0/16B3748", batch_size: 100, include_operations: ["insert"] }, editor);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ category: "CONFIGURATION", message: expect.stringMatching(/mapping/) });
    expect((await api("GET", `/sources/${sourceId}/capabilities`, { token: viewer })).body.cdc).toBe(true);
  });
});
