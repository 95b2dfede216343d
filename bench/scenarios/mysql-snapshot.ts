// A whole MySQL/MariaDB snapshot: 1M source rows → connector → compiled mapping → context store
// (PostgreSQL), checkpoint per commit, in a worker-like process of its own. Baseline, same run:
// `mysqldump | mysql` of the same table into a plain table of the same server.
//   npm run bench mysql-snapshot [-- --rows 1000000 --batch 1000]
import crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import mysql from "mysql2/promise";
import { benchMariadb, benchPostgres, mariadbShell, productDatabase } from "../env.ts";
import { machine, numberArg, timed, workerShare, childSetting, type BenchResult, withMachineBusy } from "../harness.ts";
import { snapshotChild } from "./snapshot-e2e.ts";

export const MYSQL_BENCH_TABLE = `CREATE TABLE items (id bigint PRIMARY KEY, a int, b int, name varchar(100), email varchar(200), doc json, at timestamp(6) NULL, amount decimal(12,2))`;

/** The source table with `rows` rows (kept between runs: it is slow to fill). */
async function ensureSourceTable(url: string, rows: number) {
  const c = await mysql.createConnection({ uri: url, multipleStatements: true });
  await c.query("CREATE DATABASE IF NOT EXISTS ecm_bench_src; USE ecm_bench_src");
  const [have] = (await c.query("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'ecm_bench_src' AND TABLE_NAME = 'items'")) as unknown as [{ n: number }[]];
  const count = have[0]!.n ? ((await c.query("SELECT COUNT(*) AS n FROM items")) as unknown as [{ n: number }[]])[0][0]!.n : -1;
  if (Number(count) !== rows) {
    await c.query(`DROP TABLE IF EXISTS items; ${MYSQL_BENCH_TABLE}`);
    for (let start = 1; start <= rows; start += 100_000) {
      const end = Math.min(rows, start + 99_999);
      await c.query(`INSERT INTO items SELECT seq, seq % 1000, seq % 7, CONCAT('name ', seq), CONCAT('User', seq, '@Example.com'), CONCAT('{"k": ', seq, ', "tags": ["a","b"]}'), '2024-01-02 03:04:05.123456', seq / 100 FROM seq_${start}_to_${end}`);
    }
  }
  await c.end();
}

export async function run(args: string[]): Promise<BenchResult> {
  const rows = numberArg(args, "--rows", 1_000_000);
  const batch = numberArg(args, "--batch", 1000);
  const source = await benchMariadb();
  const pgServer = await benchPostgres();
  await ensureSourceTable(source.url(), rows);
  const metaUrl = await productDatabase(pgServer, "ecm_bench_mysql_meta");

  // Baseline: mysqldump of the table piped into mysql, into a plain table of another database.
  const { conn, sh } = mariadbShell(source.url());
  sh(`mariadb ${conn} -e "DROP DATABASE IF EXISTS ecm_bench_copy; CREATE DATABASE ecm_bench_copy"`);
  const { result: pipe, busy: pipeBusy } = await withMachineBusy(() => timed(async () => sh(`mariadb-dump ${conn} --single-transaction --quick ecm_bench_src items | mariadb ${conn} ecm_bench_copy`)));

  const src = new URL(source.url("ecm_bench_src"));
  const childEnv = { ...process.env, DATABASE_URL: metaUrl, ECM_SECRET_KEY: crypto.randomBytes(32).toString("base64"), ECM_SOURCE_BENCH_PASSWORD: decodeURIComponent(src.password), ECM_LOG_LEVEL: "warn" };
  const setup = spawnSync(process.execPath, ["--import", "tsx", "-e", SETUP_SCRIPT(src, batch)], { env: childEnv, encoding: "utf8" });
  if (setup.status !== 0) throw new Error(`setup failed: ${setup.stderr}`);
  const sourceId = setup.stdout.trim().split("\n").pop()!;
  const ours = await snapshotChild(childEnv, sourceId, batch);
  if (ours.rows !== rows || ours.written !== rows) throw new Error(`read ${ours.rows}, wrote ${ours.written}, expected ${rows}`);
  await pgServer.stop();
  await source.stop();
  return {
    scenario: "mysql-snapshot",
    machine: machine(),
    started_at: new Date().toISOString(),
    figures: [
      {
        name: `MariaDB snapshot → mapping → context store, ${rows.toLocaleString("en-US")} rows, pages of ${batch}, checkpoint per commit of ${childSetting("ECM_SNAPSHOT_COMMIT_ROWS")} rows`,
        value: rows / ours.seconds,
        unit: "rows/s",
        baseline: { name: "mysqldump | mysql (plain table, same server)", value: rows / pipe.seconds },
        target: 0.5,
      },
    ],
    // machine_busy: the whole machine's CPU in use (0..1, all cores) during each run.
    extra: { worker_peak_rss_mb: Math.round(ours.max_rss_mb), worker_cpu_share: workerShare(ours), machine_busy: { ours: ours.machine_busy, baseline: pipeBusy }, batch_size: batch },
  };
}

export const MYSQL_BENCH_FIELDS = `[
  { source: "id", target: "context_id" }, { source: "a", target: "data.a" }, { source: "b", target: "data.b" },
  { source: "name", target: "data.name" }, { source: "email", target: "data.email", transform: "lowercase" },
  { source: "doc", target: "data.doc" }, { source: "at", target: "data.at" }, { source: "amount", target: "data.amount" } ]`;

export const MYSQL_SOURCE_CONFIG = (src: URL, database: string, batch: number) => `{
  connector_type: "mysql",
  connection: { host: "${src.hostname}", port: ${Number(src.port)}, database: "${database}", ssl_mode: "disable" },
  authentication: { type: "credentials", username: "${decodeURIComponent(src.username)}", password_secret: "env://ECM_SOURCE_BENCH_PASSWORD" },
  options: { batch_size: ${batch}, change_tracking: "cdc" } }`;

const SETUP_SCRIPT = (src: URL, batch: number) => `
const { createSource } = await import("./server/sources/service.ts");
const { saveMappingVersion } = await import("./server/store/mappings.ts");
const s = await createSource({ name: "bench", config: ${MYSQL_SOURCE_CONFIG(src, "ecm_bench_src", batch)} });
await saveMappingVersion(s.id, { mappings: [{ source: { table: "items" }, target: { context_type: "bench" }, fields: ${MYSQL_BENCH_FIELDS} }] }, "bench");
console.log(s.id);
process.exit(0);
`;
