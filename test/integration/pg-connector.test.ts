// The PostgreSQL connector against a real server: discovery, chunked snapshot that resumes,
// health checks with their hints, secret references, host policy and ssl_mode.
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresConnector } from "../../server/connectors/postgresql/connector.ts";
import type { TPostgresConfig } from "../../server/connectors/postgresql/config.ts";
import { hostPolicyFromEnv } from "../../server/connectors/host-policy.ts";
import { secretPolicyFromEnv } from "../../server/secrets/resolve.ts";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../scripts/lib/embedded-postgres.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";

const SOURCE_ID = "00000000-0000-0000-0000-00000000c0de";
const SETUP = `
CREATE SCHEMA sales;
CREATE TYPE tier AS ENUM ('free', 'pro');
CREATE DOMAIN country AS char(2);
CREATE TABLE customers (customer_id bigint PRIMARY KEY, email text NOT NULL, tags text[], tier tier, country country, balance numeric(10,2));
CREATE TABLE sales.order_lines (order_id bigint, line_no int, label text NOT NULL, PRIMARY KEY (order_id, line_no));
ALTER TABLE sales.order_lines REPLICA IDENTITY FULL;
CREATE TABLE events (id int, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE logbook (line text);
CREATE VIEW pro_customers AS SELECT * FROM customers WHERE tier = 'pro';
INSERT INTO customers SELECT i, 'c' || i || '@example.com', ARRAY['t' || (i % 3)], (ARRAY['free','pro']::tier[])[1 + i % 2], 'DE', i * 1.25 FROM generate_series(1, 2500) i;
-- composite keys whose text needs quoting, out of insertion order
INSERT INTO sales.order_lines SELECT o, l, 'line, "' || o || '/' || l || '"' FROM generate_series(1, 700) o, generate_series(1, 3) l ORDER BY random();
INSERT INTO events SELECT i, date '2024-01-01' + i FROM generate_series(1, 100) i;
ANALYZE;`;

let source: Awaited<ReturnType<typeof createSourceDatabase>>;
const open: PostgresConnector[] = [];
async function connector(config: TPostgresConfig, ctx: Partial<ConstructorParameters<typeof PostgresConnector>[0]> = {}) {
  const c = new PostgresConnector({ sourceId: SOURCE_ID, ...ctx });
  await c.initialize(config);
  open.push(c);
  return c;
}

beforeAll(async () => {
  source = await createSourceDatabase("ecm_src_connector", SETUP);
});
afterAll(async () => {
  for (const c of open) await c.shutdown();
});

describe("discovery", () => {
  it("opens one connection when several entities are described at once on a fresh connector", async () => {
    const sessions = async () => Number((await source.query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'")).rows[0].n);
    const before = await sessions();
    const c = await connector(source.config);
    await Promise.all(["customers", "events", "sales.order_lines"].map((t) => c.describeEntity(t)));
    expect(await sessions()).toBe(before + 1);
    await c.shutdown();
    // (The server ends a closed session as it reads the client's goodbye.)
    await waitFor("the connector's session to end", async () => ((await sessions()) === before ? true : undefined), 5_000, 50);
  });

  it("lists tables, partitioned tables and views across schemas with keys, estimates and CDC eligibility", async () => {
    const entities = await (await connector(source.config)).listEntities();
    const byName = Object.fromEntries(entities.map((e) => [e.name, e]));
    expect(Object.keys(byName).sort()).toEqual(["customers", "events", "logbook", "pro_customers", "sales.order_lines"]);
    expect(byName.customers).toMatchObject({ kind: "table", schema: "public", primary_key: ["customer_id"], row_estimate: 2500, cdc: true });
    expect(byName["sales.order_lines"]).toMatchObject({ kind: "table", schema: "sales", primary_key: ["order_id", "line_no"], cdc: true });
    expect(byName.events).toMatchObject({ kind: "partitioned_table", primary_key: ["id", "at"], row_estimate: 100, cdc: true });
    expect(byName.pro_customers).toMatchObject({ kind: "view", cdc: false });
    expect(byName.logbook).toMatchObject({ primary_key: [], cdc: false });
  });

  it("describes columns with full type names (arrays, enums, domains), nullability and key positions", async () => {
    const c = await connector(source.config);
    const customers = await c.describeEntity("customers");
    expect(customers.replica_identity).toBe("default");
    // The neutral words the pipeline decides by: changes carry the key, and how to make them carry the row.
    expect(customers).toMatchObject({ old_row: "key", old_row_fix: "ALTER TABLE customers REPLICA IDENTITY FULL" });
    expect(customers.columns).toEqual([
      { name: "customer_id", type: "bigint", base_type: "bigint", kind: "number", nullable: false, primary_key_position: 1, is_array: false, is_enum: false },
      { name: "email", type: "text", base_type: "text", kind: "text", nullable: false, is_array: false, is_enum: false },
      { name: "tags", type: "text[]", base_type: "text", kind: "array", nullable: true, is_array: true, is_enum: false },
      { name: "tier", type: "tier", base_type: "tier", kind: "text", nullable: true, is_array: false, is_enum: true },
      { name: "country", type: "country", base_type: "character", kind: "text", nullable: true, is_array: false, is_enum: false },
      { name: "balance", type: "numeric(10,2)", base_type: "numeric", kind: "number", nullable: true, is_array: false, is_enum: false },
    ]);
    const lines = await c.describeEntity("sales.order_lines");
    expect(lines.primary_key).toEqual(["order_id", "line_no"]);
    expect(lines.replica_identity).toBe("full");
    expect(lines.old_row).toBe("whole");
    expect(lines.columns.map((col) => col.primary_key_position)).toEqual([1, 2, undefined]);
  });

  it("names a missing entity clearly", async () => {
    await expect((await connector(source.config)).describeEntity("nope")).rejects.toThrow(/entity nope not found/);
  });
});

describe("snapshot extraction", () => {
  it("reads in key-ordered chunks of batch_size, composite keys included, every row once", async () => {
    const c = await connector(source.config);
    const seen: string[] = [];
    const sizes: number[] = [];
    for await (const chunk of c.readSnapshotChunks!("sales.order_lines", { batch_size: 1000 })) {
      sizes.push(chunk.records.length);
      for (const r of chunk.records) seen.push(`${r.order_id}/${r.line_no}`);
    }
    expect(sizes).toEqual([1000, 1000, 100]);
    expect(new Set(seen).size).toBe(2100);
    const sorted = [...seen].sort((a, b) => {
      const [ao, al] = a.split("/").map(Number);
      const [bo, bl] = b.split("/").map(Number);
      return ao! - bo! || al! - bl!;
    });
    expect(seen).toEqual(sorted);
  });

  it("resumes an interrupted snapshot after its last checkpointed chunk without re-reading finished chunks", async () => {
    let checkpoint: string[] | null = null;
    const firstRun: number[] = [];
    const c1 = await connector(source.config);
    for await (const chunk of c1.readSnapshotChunks!("customers", { batch_size: 1000 })) {
      firstRun.push(...chunk.records.map((r) => r.customer_id as number));
      checkpoint = chunk.resume_after; // durably checkpointed in a real run
      break; // the worker dies here
    }
    await c1.shutdown();
    expect(checkpoint).toEqual(["1000"]);

    const secondRun: number[] = [];
    const c2 = await connector(source.config);
    for await (const chunk of c2.readSnapshotChunks!("customers", { batch_size: 1000, after: checkpoint })) {
      secondRun.push(...chunk.records.map((r) => r.customer_id as number));
    }
    expect(secondRun.length).toBe(1500);
    expect(Math.min(...secondRun)).toBe(1001);
    expect([...firstRun, ...secondRun].sort((a, b) => a - b)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
  });

  it("yields spec Contexts from extractSnapshot and reports each chunk for checkpointing", async () => {
    const c = await connector({ ...source.config, options: { batch_size: 1000, change_tracking: "snapshot" } });
    const chunks: string[][] = [];
    const it = c.extractSnapshot("sales.order_lines", { batch_size: 500, limit: 1000, onChunk: ({ last_key }) => void chunks.push(last_key) });
    const contexts = [];
    for (let r = await it.next(); !r.done; r = await it.next()) contexts.push(r.value);
    expect(contexts.length).toBe(1000);
    expect(contexts[0]).toMatchObject({ context_type: "sales.order_lines", context_id: "1:1", source: { entity: "sales.order_lines", key: ["1", "1"] } });
    expect(chunks.length).toBe(2);
  });

  it("refuses tables without a primary key and views with a CONFIGURATION error", async () => {
    const c = await connector(source.config);
    await expect(c.readSnapshotChunks!("logbook").next()).rejects.toMatchObject({ category: "CONFIGURATION", message: expect.stringMatching(/no primary key/) });
    await expect(c.readSnapshotChunks!("pro_customers").next()).rejects.toMatchObject({ category: "CONFIGURATION" });
  });

  it("keeps memory bounded: a chunk holds at most batch_size records", async () => {
    const c = await connector(source.config);
    let max = 0;
    for await (const chunk of c.readSnapshotChunks!("customers", { batch_size: 300 })) max = Math.max(max, chunk.records.length);
    expect(max).toBe(300);
  });
});

describe("health checks", () => {
  const names = (h: { checks: { name: string; status: string }[] }) => Object.fromEntries(h.checks.map((c) => [c.name, c.status]));
  let replicaServer: EmbeddedPostgres;

  beforeAll(async () => {
    await source.query(`DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'limited') THEN DROP OWNED BY limited; DROP ROLE limited; END IF; END $$`);
    await source.query(`CREATE ROLE limited LOGIN PASSWORD 'limited-pw'`);
    await source.query(`GRANT SELECT ON customers TO limited`);
    replicaServer = await startEmbeddedPostgres({
      dir: path.resolve(".data/test/pg-replica"),
      port: 54340,
      password: "replica-pw",
      settings: { wal_level: "replica" },
    });
  });
  afterAll(async () => {
    await replicaServer?.stop();
  });

  it("passes every check for a well-set-up source", async () => {
    const h = await (await connector(source.config)).healthCheck();
    expect(h.status).toBe("healthy");
    expect(names(h)).toEqual({
      reachable: "pass",
      authenticated: "pass",
      database_exists: "pass",
      tls: "pass",
      server_version: "pass",
      wal_level: "pass",
      replication_privilege: "pass",
      select_privilege: "pass",
      publication: "pass",
      replication_slot: "pass",
    });
  });

  it("reports a wrong password at 'authenticated' with a hint", async () => {
    process.env.ECM_SOURCE_WRONG = "definitely-wrong";
    const h = await (await connector({ ...source.config, authentication: { ...source.config.authentication, password_secret: "env://ECM_SOURCE_WRONG" } })).healthCheck();
    expect(h.status).toBe("unhealthy");
    expect(h.checks).toEqual([{ name: "authenticated", status: "fail", message: expect.stringMatching(/password authentication failed/), hint: expect.stringMatching(/password/) }]);
  });

  it("reports a missing database at 'database_exists'", async () => {
    const h = await (await connector({ ...source.config, connection: { ...source.config.connection, database: "no_such_db" } })).healthCheck();
    expect(h.checks[0]).toMatchObject({ name: "database_exists", status: "fail", hint: expect.stringMatching(/CREATE DATABASE/) });
  });

  it("reports wal_level=replica with the command that fixes it", async () => {
    process.env.ECM_SOURCE_REPLICA_PW = "replica-pw";
    const config: TPostgresConfig = {
      ...source.config,
      connection: { ...source.config.connection, port: 54340, database: "postgres" },
      authentication: { type: "credentials", username: "postgres", password_secret: "env://ECM_SOURCE_REPLICA_PW" },
    };
    const h = await (await connector(config)).healthCheck();
    expect(h.checks.find((c) => c.name === "wal_level")).toMatchObject({ status: "fail", hint: "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL" });
    expect(h.status).toBe("unhealthy");
  });

  it("reports a missing REPLICATION attribute and tables the user cannot read", async () => {
    process.env.ECM_SOURCE_LIMITED = "limited-pw";
    const config: TPostgresConfig = { ...source.config, authentication: { type: "credentials", username: "limited", password_secret: "env://ECM_SOURCE_LIMITED" } };
    const h = await (await connector(config)).healthCheck();
    expect(h.checks.find((c) => c.name === "replication_privilege")).toMatchObject({ status: "fail", hint: 'ALTER ROLE "limited" REPLICATION' });
    expect(h.checks.find((c) => c.name === "select_privilege")).toMatchObject({ status: "warn", message: expect.stringMatching(/sales\.order_lines|events/) });
    const mapped = await (await connector(config, { mappedTables: ["customers", "sales.order_lines"] })).healthCheck();
    expect(mapped.checks.find((c) => c.name === "select_privilege")).toMatchObject({ status: "fail", hint: expect.stringMatching(/GRANT SELECT ON sales\.order_lines/) });
    expect(mapped.checks.find((c) => c.name === "publication")).toMatchObject({ status: "fail" });
  });

  it("reports an unreachable port at 'reachable'", async () => {
    const h = await (await connector({ ...source.config, connection: { ...source.config.connection, port: 1 } })).healthCheck();
    expect(h.checks).toEqual([expect.objectContaining({ name: "reachable", status: "fail" })]);
  });

  it("reports an existing slot's state", async () => {
    await source.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [`ecm_slot_${SOURCE_ID.replaceAll("-", "")}`]);
    try {
      const h = await (await connector(source.config)).healthCheck();
      expect(h.checks.find((c) => c.name === "replication_slot")?.message).toMatch(/inactive, wal_status reserved, .* of WAL retained/);
    } finally {
      await source.query(`SELECT pg_drop_replication_slot('ecm_slot_${SOURCE_ID.replaceAll("-", "")}')`);
    }
  });
});

describe("secret references", () => {
  const password = () => decodeURIComponent(new URL(process.env.TEST_SERVER_URL!).password);
  const withSecret = (ref: string): TPostgresConfig => ({ ...source.config, authentication: { ...source.config.authentication, password_secret: ref } });

  it("refuses env:// names outside the operator's allowlist", async () => {
    const c = await connector(withSecret("env://DATABASE_URL"));
    await expect(c.listEntities()).rejects.toThrow(/env:\/\/DATABASE_URL is not allowed/);
  });

  it("reads file:// only under an allowed directory", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ecm-secrets-"));
    fs.writeFileSync(path.join(dir, "pg"), password() + "\n");
    const denied = await connector(withSecret(`file://${dir}/pg`));
    await expect(denied.listEntities()).rejects.toThrow(/outside the directories allowed/);
    const allowed = await connector(withSecret(`file://${dir}/pg`), { policies: { secrets: secretPolicyFromEnv({ ECM_SECRET_FILE_ALLOW: dir }) } });
    expect((await allowed.listEntities()).length).toBeGreaterThan(0);
  });

  it("reads vault:// from a KV v2 server with the token", async () => {
    const requests: { url?: string; token?: string | string[] }[] = [];
    const vault = http.createServer((req, res) => {
      requests.push({ url: req.url, token: req.headers["x-vault-token"] });
      if (req.url === "/v1/db/data/postgres" && req.headers["x-vault-token"] === "vault-token") {
        res.end(JSON.stringify({ data: { data: { password: password() }, metadata: { version: 1 } } }));
      } else {
        res.statusCode = 403;
        res.end("{}");
      }
    });
    await new Promise<void>((r) => vault.listen(0, "127.0.0.1", () => r()));
    const addr = `http://127.0.0.1:${(vault.address() as { port: number }).port}`;
    try {
      const c = await connector(withSecret("vault://db/postgres/password"), { policies: { secrets: secretPolicyFromEnv({ VAULT_ADDR: addr, VAULT_TOKEN: "vault-token" }) } });
      expect((await c.listEntities()).length).toBeGreaterThan(0);
      expect(requests[0]).toEqual({ url: "/v1/db/data/postgres", token: "vault-token" });
      const wrong = await connector(withSecret("vault://db/postgres/password"), { policies: { secrets: secretPolicyFromEnv({ VAULT_ADDR: addr, VAULT_TOKEN: "nope" }) } });
      await expect(wrong.listEntities()).rejects.toThrow(/VAULT_TOKEN may not read db\/postgres/);
    } finally {
      vault.close();
    }
  });
});

describe("host policy and ssl_mode", () => {
  it("denies cloud metadata and link-local addresses before connecting", async () => {
    const c = await connector({ ...source.config, connection: { ...source.config.connection, host: "169.254.169.254" } });
    await expect(c.listEntities()).rejects.toThrow(/not allowed by the source host policy/);
    const h = await c.healthCheck();
    expect(h.checks).toEqual([expect.objectContaining({ name: "reachable", status: "fail", message: expect.stringMatching(/host policy/) })]);
  });

  it("honours an operator allowlist", async () => {
    const c = await connector(source.config, { policies: { hosts: hostPolicyFromEnv({ ECM_SOURCE_HOST_ALLOW: "10.0.0.0/8" }) } });
    await expect(c.listEntities()).rejects.toThrow(/host policy/);
  });

  it("require fails against a server without TLS; prefer falls back to plain text; disable connects plain", async () => {
    const ssl = (mode: TPostgresConfig["connection"]["ssl_mode"]) => ({ ...source.config, connection: { ...source.config.connection, ssl_mode: mode } });
    const required = await (await connector(ssl("require"))).healthCheck();
    expect(required.checks[0]).toMatchObject({ name: "tls", status: "fail" });
    expect((await (await connector(ssl("prefer"))).listEntities()).length).toBeGreaterThan(0);
    const client = new pg.Client({ connectionString: source.url });
    await client.connect();
    const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'ecm-connect' AND s.ssl");
    await client.end();
    expect(rows[0].n).toBe(0);
  });
});

describe("change capture is set up before the snapshot's first read", () => {
  const CAPTURE_ID = "00000000-0000-0000-0000-0000000ca97e";
  const suffix = CAPTURE_ID.replaceAll("-", "");
  const slot = `ecm_slot_${suffix}`;
  const publication = `ecm_pub_${suffix}`;
  afterAll(async () => {
    await source.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    await source.query(`DROP PUBLICATION IF EXISTS ${publication}`);
  });

  it("prepareCapture makes the publication and the slot before a read, so a change committed mid-snapshot is captured", async () => {
    const c = await connector(source.config, { sourceId: CAPTURE_ID });
    const setup = await c.prepareCapture(["customers"], { replace: false });
    expect(setup).toMatchObject({ created: true, server: expect.stringMatching(/^pg:\d+\/\d+$/) });
    const it = c.extractSnapshot("customers", { batch_size: 500 });
    const first = await it.next(); // reads only: the pipeline decides when a capture is made
    expect(first.done).toBe(false);
    const slots = await source.query("SELECT plugin FROM pg_replication_slots WHERE slot_name = $1", [slot]);
    expect(slots.rows).toEqual([{ plugin: "pgoutput" }]);
    const published = await source.query("SELECT tablename FROM pg_publication_tables WHERE pubname = $1", [publication]);
    expect(published.rows).toEqual([{ tablename: "customers" }]);

    // Committed while the snapshot is still running: row 1 was already read, 9999 lies beyond it.
    await source.query(`UPDATE customers SET email = 'changed@example.com' WHERE customer_id = 1`);
    await source.query(`INSERT INTO customers (customer_id, email) VALUES (9999, 'late@example.com')`);
    let read = 1;
    for (let r = await it.next(); !r.done; r = await it.next()) read++;
    expect(read).toBeGreaterThanOrEqual(2500);

    const changes = await source.query(
      `SELECT get_byte(data, 0) AS kind FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)`,
      [slot, publication],
    );
    const kinds = changes.rows.map((r: { kind: number }) => String.fromCharCode(r.kind));
    expect(kinds).toContain("U"); // the update of a row the snapshot had already passed
    expect(kinds).toContain("I");
  });

  it("adds a newly snapshotted table to the existing publication and reuses the slot", async () => {
    const c = await connector(source.config, { sourceId: CAPTURE_ID });
    const state = await c.prepareCapture(["sales.order_lines"], { replace: false });
    expect(state).toEqual({ created: false, start: expect.stringMatching(/^pg_lsn:[0-9A-F]+\/[0-9A-F]+$/), server: expect.stringMatching(/^pg:\d+\/\d+$/) });
    const published = await source.query("SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname LIKE $1", [`%${CAPTURE_ID.replaceAll("-", "")}`]);
    expect(published.rows.map((r: { t: string }) => r.t)).toContain("sales.order_lines");
  });

  it("creates nothing for previews or snapshot-only sources", async () => {
    const other = "00000000-0000-0000-0000-00000000beef";
    const preview = await connector(source.config, { sourceId: other });
    for await (const _ of preview.readSnapshotChunks!("customers", { limit: 10 })) break;
    const snapshotOnly = await connector({ ...source.config, options: { batch_size: 1000, change_tracking: "snapshot" } }, { sourceId: other });
    const it = snapshotOnly.extractSnapshot("customers", { limit: 10 });
    await it.next();
    await it.return?.();
    const slots = await source.query("SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name LIKE $1", [`%${other.replaceAll("-", "")}`]);
    expect(slots.rows[0].n).toBe(0);
  });

  it("reports a user who may not create them as a CONFIGURATION error", async () => {
    process.env.ECM_SOURCE_LIMITED = "limited-pw";
    const config: TPostgresConfig = { ...source.config, authentication: { type: "credentials", username: "limited", password_secret: "env://ECM_SOURCE_LIMITED" } };
    const c = await connector(config, { sourceId: "00000000-0000-0000-0000-0000000000aa" });
    await expect(c.prepareCapture(["customers"], { replace: false })).rejects.toMatchObject({ category: "CONFIGURATION", message: expect.stringMatching(/publication/) });
  });
});
