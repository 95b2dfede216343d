// Integration tests run against real servers: a PostgreSQL started with wal_level=logical
// (TEST_DATABASE_URL, or an embedded one under .data/test) and a real Redis (TEST_REDIS_URL, or
// the local one on database 15, or a redis-server started for the run). Migrations are applied to
// a fresh database each run.
import crypto from "node:crypto";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../scripts/lib/embedded-postgres.ts";
import { ensureRedis, type RedisHandle } from "../../scripts/lib/redis-server.ts";
import { startMariadb, type MariadbServer } from "../../scripts/lib/mariadb-server.ts";
import { applyMigrations } from "../../server/db/migrations.ts";
import { buildWorker } from "../../worker/build.ts";

let embedded: EmbeddedPostgres | undefined;
let redis: RedisHandle | undefined;
let mariadb: MariadbServer | undefined;

export async function setup() {
  // Worker processes the tests start run the bundle the product runs (worker/build.ts), built
  // once per run (under `vitest --watch`, a later edit reaches them at the next run, not before).
  await buildWorker();
  let serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    embedded = await startEmbeddedPostgres({ dir: path.resolve(".data/test/pg"), port: 54339, password: "ecm-test" });
    serverUrl = embedded.url("postgres");
  }
  const admin = new pg.Client({ connectionString: serverUrl });
  admin.on("error", () => {}); // a server going away is reported by the next query
  await admin.connect();
  await admin.query("DROP DATABASE IF EXISTS ecm_test WITH (FORCE)");
  await admin.query("CREATE DATABASE ecm_test");
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = "/ecm_test";
  process.env.DATABASE_URL = url.toString();
  process.env.TEST_SERVER_URL = serverUrl;
  await applyMigrations(process.env.DATABASE_URL);

  redis = await ensureRedis({ url: process.env.TEST_REDIS_URL, dataDir: path.resolve(".data/test"), port: 6391, log: () => {} });
  process.env.REDIS_URL = redis.started || process.env.TEST_REDIS_URL ? redis.url : `${redis.url}/15`;
  process.env.ECM_SECRET_KEY = crypto.randomBytes(32).toString("base64");
  process.env.ECM_API_TOKEN = `test-admin-token-${crypto.randomBytes(8).toString("hex")}`;
  process.env.ECM_LOG_LEVEL = "info";
  process.env.PORT = "3999";
  // The MySQL connector's tests: MYSQL_TEST_URL (a MySQL 8 or MariaDB server with a row binlog), or
  // a MariaDB of their own (Debian's mariadbd) under .data/test.
  if (!process.env.MYSQL_TEST_URL) {
    mariadb = await startMariadb({ dir: path.resolve(".data/test/mariadb"), port: 0, serverId: 11, password: "ecm-test" });
    process.env.MYSQL_TEST_URL = mariadb.url();
  }
  process.env.ECM_SOURCE_TEST_MYSQL_PASSWORD = decodeURIComponent(new URL(process.env.MYSQL_TEST_URL).password);
}

export async function teardown() {
  if (redis?.started) await redis.stop();
  await embedded?.stop();
  await mariadb?.stop();
}
