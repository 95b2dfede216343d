// PostgreSQL passes the connector conformance kit (test/conformance/kit.ts) against the test server
// (wal_level=logical).
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../scripts/lib/embedded-postgres.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { describeConformance, type FixtureSource } from "./kit.ts";

const names = (sourceId: string) => {
  const suffix = sourceId.replaceAll("-", "");
  return { slot: `ecm_slot_${suffix}`, publication: `ecm_pub_${suffix}` };
};

let moved: EmbeddedPostgres | undefined;

describeConformance({
  type: "postgresql",
  async createSource(name) {
    const db = await createSourceDatabase(name);
    return { config: db.config as unknown as Record<string, unknown>, exec: async (sql) => (await db.query(sql)).rows, url: db.url };
  },
  incremental: {
    cursorType: "timestamptz NOT NULL DEFAULT now()",
    now: "now()",
    dayAgo: "now() - interval '1 day'",
    async session(source) {
      const c = new pg.Client({ connectionString: source.url });
      c.on("error", () => {}); // reported by the next statement
      await c.connect();
      return { exec: async (sql) => (await c.query(sql)).rows, close: () => c.end() };
    },
  },
  entity: (table) => table,
  types: [
    { column: "c_int8", type: "int8", literal: "9223372036854775807", expected: "9223372036854775807" },
    { column: "c_int4", type: "int4", literal: "-2147483648", expected: -2147483648 },
    { column: "c_numeric", type: "numeric(30,9)", literal: "123456789012345678901.123456789", expected: "123456789012345678901.123456789" },
    { column: "c_float8", type: "float8", literal: "0.1", expected: 0.1 },
    { column: "c_bool", type: "bool", literal: "true", expected: true },
    { column: "c_text", type: "text", literal: "'𝄞 中文 é ''quoted'''", expected: "𝄞 中文 é 'quoted'" },
    { column: "c_uuid", type: "uuid", literal: "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", expected: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" },
    { column: "c_jsonb", type: "jsonb", literal: `'{"b": 1, "a": {"n": null}}'`, expected: { a: { n: null }, b: 1 } },
    { column: "c_date", type: "date", literal: "'2024-02-29'", expected: "2024-02-29" },
    { column: "c_ts", type: "timestamp", literal: "'2024-01-02 03:04:05.123456'", expected: "2024-01-02T03:04:05.123456" },
    { column: "c_tstz", type: "timestamptz", literal: "'2024-01-02 03:04:05.123456+02'", expected: "2024-01-02T01:04:05.123456Z" },
    { column: "c_interval", type: "interval", literal: "'1 year 2 mons 3 days 04:05:06.5'", expected: "P1Y2M3DT4H5M6.5S" },
    { column: "c_bytea", type: "bytea", literal: "'\\x00ff10'", expected: "AP8Q" },
    { column: "c_int_array", type: "int[]", literal: "'{1,NULL,3}'", expected: [1, null, 3] },
    { column: "c_text_array", type: "text[]", literal: `'{"a,b","c\\"d",NULL}'`, expected: ["a,b", 'c"d', null] },
    { column: "c_null", type: "text", literal: "NULL", expected: null },
  ],
  brokenHealth: [
    { check: "reachable", config: (good) => ({ ...good, connection: { ...(good.connection as object), port: 1 } }) },
    {
      check: "authenticated",
      config: (good) => {
        process.env.ECM_SOURCE_KIT_WRONG = "not-the-password";
        return { ...good, authentication: { ...(good.authentication as object), password_secret: "env://ECM_SOURCE_KIT_WRONG" } };
      },
    },
    { check: "database_exists", config: (good) => ({ ...good, connection: { ...(good.connection as object), database: "ecm_kit_no_such_db" } }) },
    {
      check: "replication_privilege",
      config: async (good) => {
        const database = (good.connection as { database: string }).database;
        const db = await createSourceDatabaseHandle(database);
        await db.exec(`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kit_norepl') THEN CREATE ROLE kit_norepl LOGIN PASSWORD 'kit-norepl'; END IF; END $$`);
        await db.exec(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO kit_norepl; GRANT CREATE ON DATABASE ${database} TO kit_norepl`);
        process.env.ECM_SOURCE_KIT_NOREPL = "kit-norepl";
        return { ...good, authentication: { type: "credentials", username: "kit_norepl", password_secret: "env://ECM_SOURCE_KIT_NOREPL" } };
      },
    },
  ],
  async captureExists(source: FixtureSource, sourceId: string) {
    const { slot, publication } = names(sourceId);
    const [row] = await source.exec(
      `SELECT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '${slot}') OR EXISTS (SELECT FROM pg_publication WHERE pubname = '${publication}') AS present`,
    );
    return row!.present === true;
  },
  async dropCaptureByHand(source, sourceId) {
    const { slot } = names(sourceId);
    await source.exec(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '${slot}' AND active_pid IS NOT NULL`);
    for (let i = 0; ; i++) {
      try {
        await source.exec(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${slot}'`);
        return;
      } catch (e) {
        if (i > 40) throw e; // still active: the terminated session has not exited yet
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  },
  async freshServer(name) {
    // A second PostgreSQL cluster (its own system identifier and log positions), reached with the
    // test server's user and password so the source's secret reference still resolves.
    const test = new URL(process.env.TEST_SERVER_URL!);
    moved ??= await startEmbeddedPostgres({ dir: path.resolve(".data/test/pg-moved"), port: 54341, password: decodeURIComponent(test.password), user: decodeURIComponent(test.username) });
    const admin = new pg.Client({ connectionString: moved.url("postgres") });
    admin.on("error", () => {});
    await admin.connect();
    await admin.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1", [name]);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = moved.url(name);
    return {
      url,
      config: { connector_type: "postgresql", connection: { host: "127.0.0.1", port: moved.port, database: name, ssl_mode: "disable" }, authentication: { type: "credentials", username: moved.user, password_secret: "env://ECM_SOURCE_TEST_PASSWORD" }, options: { batch_size: 1000, change_tracking: "cdc" } },
      exec: async (sql) => {
        const c = new pg.Client({ connectionString: url });
        c.on("error", () => {});
        await c.connect();
        try {
          return (await c.query(sql)).rows;
        } finally {
          await c.end();
        }
      },
    };
  },
  async cleanup() {
    await moved?.stop();
  },
});

/** SQL on an existing kit database (its handle from createSourceDatabase is the kit's). */
async function createSourceDatabaseHandle(database: string) {
  const pg = (await import("pg")).default;
  const url = Object.assign(new URL(process.env.TEST_SERVER_URL!), { pathname: `/${database}` }).toString();
  return {
    exec: async (sql: string) => {
      const c = new pg.Client({ connectionString: url });
      c.on("error", () => {});
      await c.connect();
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    },
  };
}
