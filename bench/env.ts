// The servers a benchmark runs against: BENCH_DATABASE_URL (a PostgreSQL with wal_level=logical),
// else an embedded one under .data/bench; REDIS_URL, else the local Redis.
import crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import path from "node:path";
import pg from "pg";
import { applyMigrations } from "../server/db/migrations.ts";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../scripts/lib/embedded-postgres.ts";
import { startMariadb, type MariadbServer } from "../scripts/lib/mariadb-server.ts";

/** A PostgreSQL a benchmark runs against: URLs of its databases, and how to stop it (nothing to stop for a given one). */
export type BenchServer = { url: (db?: string) => string; stop: () => Promise<void>; embedded?: EmbeddedPostgres };

/** The server at `givenUrl` when one is given, else an embedded one in `dir` on `port`. */
async function benchServer(givenUrl: string | undefined, dir: string, port: number, tag: string): Promise<BenchServer> {
  if (givenUrl) {
    const base = new URL(givenUrl);
    return { url: (db = base.pathname.slice(1) || "postgres") => Object.assign(new URL(base), { pathname: `/${db}` }).toString(), stop: async () => {} };
  }
  const embedded = await startEmbeddedPostgres({ dir: path.resolve(dir), port, password: "ecm-bench", log: (l) => console.error(`[${tag}] ${l}`) });
  return { url: embedded.url, stop: embedded.stop, embedded };
}

export const benchPostgres = () => benchServer(process.env.BENCH_DATABASE_URL, ".data/bench/pg", 54349, "pg");

/**
 * A second server for a source of its own (BENCH_SOURCE_DATABASE_URL, else an embedded one under
 * .data/bench/pg-source, on the same cores): a deployment's source and store are two servers, and
 * a walsender of a server that also holds the store reads the store's WAL too. The URL must name
 * a superuser, an explicit port and a host the store's server reaches (the native anchor
 * subscribes from there), on a server with wal_level=logical; the bench drops and recreates its
 * database there (the URL's database is ignored). Latency then spans two clocks.
 */
export const benchSourcePostgres = () => benchServer(process.env.BENCH_SOURCE_DATABASE_URL, ".data/bench/pg-source", 54350, "pg-source");

/** Drops a database (and any replication slot in it) and creates it empty; returns its URL. */
export async function freshDatabase(server: BenchServer, name: string): Promise<string> {
  await dropDatabase(server, name, true);
  return server.url(name);
}

/** Drops a database and its replication slots (an inactive slot left by a run holds the server's WAL); `recreate`: then creates it empty. */
export async function dropDatabase(server: BenchServer, name: string, recreate = false): Promise<void> {
  const admin = new pg.Client({ connectionString: server.url("postgres") });
  await admin.connect();
  try {
    await admin.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1", [name]);
    await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(name)} WITH (FORCE)`);
    if (recreate) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
}

/** A fresh product database with the migrations applied; returns its URL. */
export async function productDatabase(server: BenchServer, name: string): Promise<string> {
  const url = await freshDatabase(server, name);
  await applyMigrations(url);
  return url;
}

/**
 * The product in this process, on a fresh database: the environment the server modules read
 * (set before they are imported), an admin API token, quiet logs. Returns the token.
 */
export async function productInProcess(server: BenchServer, name: string): Promise<string> {
  process.env.DATABASE_URL = await productDatabase(server, name);
  process.env.ECM_SECRET_KEY = crypto.randomBytes(32).toString("base64");
  process.env.ECM_API_TOKEN = crypto.randomBytes(24).toString("hex");
  process.env.ECM_LOG_LEVEL = "warn";
  return process.env.ECM_API_TOKEN;
}

/**
 * psql command lines against the bench server (`psql(db, sql)`, to compose pipes) and `sh` to run
 * them with its password; a failing command throws with its stderr.
 */
export function psqlShell(serverUrl: string) {
  const u = new URL(serverUrl);
  const psql = (db: string, sql: string) => `psql -X -q -h ${u.hostname} -p ${u.port} -U ${decodeURIComponent(u.username)} -d ${db} -c "${sql}"`;
  /** Runs a shell command line; returns what it printed. */
  const sh = (cmd: string): string => {
    const r = spawnSync("sh", ["-c", cmd], { env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) }, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    return r.stdout;
  };
  return { psql, sh };
}

/** A MySQL-compatible source for the MySQL benchmarks: BENCH_MYSQL_URL, else a MariaDB with a row binlog under .data/bench. */
export async function benchMariadb(): Promise<{ url: (db?: string) => string; stop: () => Promise<void>; server?: MariadbServer }> {
  if (process.env.BENCH_MYSQL_URL) {
    const base = new URL(process.env.BENCH_MYSQL_URL);
    return { url: (db = "") => Object.assign(new URL(base), { pathname: `/${db}` }).toString(), stop: async () => {} };
  }
  const server = await startMariadb({ dir: path.resolve(".data/bench/mariadb"), port: 33071, serverId: 21, password: "ecm-bench" });
  return { url: server.url, stop: server.stop, server };
}

/** `mariadb` client command lines against `url` (password through the environment), and `sh` to run them. */
export function mariadbShell(url: string) {
  const u = new URL(url);
  const conn = `-h ${u.hostname} -P ${u.port} -u ${decodeURIComponent(u.username)}`;
  const sh = (cmd: string) => {
    const r = spawnSync("sh", ["-c", cmd], { env: { ...process.env, MYSQL_PWD: decodeURIComponent(u.password) }, encoding: "utf8", maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    return r.stdout;
  };
  return { conn, sh };
}
