// A source database on the test PostgreSQL (wal_level=logical), created fresh for a test file.
import { isDeepStrictEqual } from "node:util";
import pg from "pg";
import type { TPostgresConfig } from "../../server/connectors/postgresql/config.ts";
import { withDb } from "./db.ts";

export async function createSourceDatabase(name: string, setupSql = ""): Promise<{ url: string; config: TPostgresConfig; query: (sql: string, params?: unknown[]) => Promise<pg.QueryResult> }> {
  const server = new URL(process.env.TEST_SERVER_URL!);
  const admin = new pg.Client({ connectionString: server.toString() });
  admin.on("error", () => {}); // a server going away is reported by the next query
  await admin.connect();
  // Slots left by an interrupted run would keep the database from being dropped.
  await admin.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1", [name]);
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = Object.assign(new URL(server), { pathname: `/${name}` }).toString();
  const query = (sql: string, params?: unknown[]) => queryOnce(url, sql, params);
  if (setupSql) await query(setupSql);
  // The test password reaches the connector the way a user's would: through a secret reference.
  process.env.ECM_SOURCE_TEST_PASSWORD = decodeURIComponent(server.password);
  const config: TPostgresConfig = {
    connector_type: "postgresql",
    connection: { host: server.hostname, port: Number(server.port), database: name, ssl_mode: "disable" },
    authentication: { type: "credentials", username: decodeURIComponent(server.username), password_secret: "env://ECM_SOURCE_TEST_PASSWORD" },
    options: { batch_size: 1000, change_tracking: "cdc" },
  };
  return { url, config, query };
}

/** One statement on its own connection (a test's view of a database, never a pooled session). */
export async function queryOnce(url: string, sql: string, params?: unknown[]): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => {}); // a server crashing under it (fault tests): the query itself reports it
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

/**
 * A PostgreSQL source config for a server a test started itself (embedded), its password behind an
 * env:// secret as a user's would be (creating the source then takes an admin).
 */
export function serverSourceConfig(opts: { port: number; database: string; password: string; secretEnv: string; options?: Record<string, unknown> }) {
  process.env[opts.secretEnv] = opts.password;
  return {
    connector_type: "postgresql",
    connection: { host: "127.0.0.1", port: opts.port, database: opts.database, ssl_mode: "disable" },
    authentication: { type: "credentials", username: "postgres", password_secret: `env://${opts.secretEnv}` },
    options: { batch_size: 500, change_tracking: "cdc", ...opts.options },
  };
}

/**
 * Whether the store's live contexts of `contextType` are exactly the source's `items (id, v)`
 * table under the tests' usual mapping (context_id the id, data.v the v).
 */
export async function storeEqualsItems(source: { query: (sql: string) => Promise<pg.QueryResult> }, contextType: string): Promise<boolean> {
  const rows = Object.fromEntries((await source.query("SELECT id, v FROM items")).rows.map((r) => [String(r.id), r.v]));
  const stored = await withDb(async (c) => Object.fromEntries((await c.query("SELECT context_id, data FROM contexts WHERE context_type = $1 AND NOT deleted", [contextType])).rows.map((r) => [r.context_id, r.data.v])));
  return isDeepStrictEqual(rows, stored);
}
