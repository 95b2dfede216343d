// MySQL/MariaDB change data capture: a backlog of 300k changes (inserts, then updates, in
// 1000-row transactions) drained from the binlog into the context store (PostgreSQL) through the
// mapping, cursor committed with every batch. Baseline, same run: `mysqlbinlog
// --read-from-remote-server --verbose` decoding the same binlog range to /dev/null.
//   npm run bench mysql-cdc [-- --changes 300000]
import crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import mysql from "mysql2/promise";
import { benchMariadb, benchPostgres, mariadbShell, productDatabase } from "../env.ts";
import { machine, numberArg, timed, type BenchResult } from "../harness.ts";
import { workerChild } from "../children.ts";
import { MYSQL_BENCH_FIELDS, MYSQL_BENCH_TABLE, MYSQL_SOURCE_CONFIG } from "./mysql-snapshot.ts";

export async function run(args: string[]): Promise<BenchResult> {
  const changes = numberArg(args, "--changes", 300_000);
  const source = await benchMariadb();
  const pgServer = await benchPostgres();
  const admin = await mysql.createConnection({ uri: source.url(), multipleStatements: true });
  await admin.query(`DROP DATABASE IF EXISTS ecm_bench_cdc; CREATE DATABASE ecm_bench_cdc; USE ecm_bench_cdc; ${MYSQL_BENCH_TABLE}`);
  const metaUrl = await productDatabase(pgServer, "ecm_bench_mysql_cdc_meta");

  // The product's source, its mapping, and its first capture (a snapshot of the empty table).
  const src = new URL(source.url("ecm_bench_cdc"));
  const childEnv = { ...process.env, DATABASE_URL: metaUrl, ECM_SECRET_KEY: crypto.randomBytes(32).toString("base64"), ECM_SOURCE_BENCH_PASSWORD: decodeURIComponent(src.password), ECM_LOG_LEVEL: "warn" };
  const setup = spawnSync(process.execPath, ["--import", "tsx", "-e", SETUP_SCRIPT(src)], { env: childEnv, encoding: "utf8" });
  if (setup.status !== 0) throw new Error(`setup failed: ${setup.stderr}`);
  const [sourceId, start] = setup.stdout.trim().split("\n").pop()!.split(" ") as [string, string];
  const [, file, position] = /^mysql_binlog:([A-Za-z0-9_.-]+):(\d+)(?:;gtid=[\d,-]*)?$/.exec(start) ?? [];
  if (!file || !position) throw new Error(`unexpected capture start ${JSON.stringify(start)}`);

  // The backlog: inserts then updates, 1000 rows per transaction; the last change is a marker.
  const txs = Math.max(2, Math.round(changes / 1000));
  const half = Math.floor(txs / 2);
  for (let t = 0; t < half; t++) {
    await admin.query(`INSERT INTO items SELECT seq, seq % 1000, seq % 7, CONCAT('name ', seq), CONCAT('User', seq, '@Example.com'), CONCAT('{"k": ', seq, '}'), '2024-01-02 03:04:05.123456', seq / 100 FROM seq_${t * 1000 + 1}_to_${t * 1000 + 1000}`);
  }
  for (let t = half; t < txs; t++) {
    const lo = ((t - half) % half) * 1000 + 1;
    const last = t === txs - 1;
    await admin.query(`BEGIN; UPDATE items SET a = a + 1, name = CONCAT(name, '.') WHERE id BETWEEN ${lo} AND ${lo + (last ? 998 : 999)};${last ? " INSERT INTO items VALUES (-1, 0, 0, 'marker', 'm@x', '{}', NULL, 0);" : ""} COMMIT;`);
  }
  await admin.end();

  // Baseline: mysqlbinlog reads and decodes (--verbose: every row as SQL) the same range.
  const { conn, sh } = mariadbShell(source.url());
  const decode = await timed(async () => sh(`mariadb-binlog ${conn} --read-from-remote-server --to-last-log --verbose --start-position=${position} ${file} > /dev/null`));

  const child = spawnSync(process.execPath, [...workerChild("cdc"), sourceId, "bench", "-1"], { env: childEnv, encoding: "utf8" });
  if (child.status !== 0) throw new Error(`stream failed: ${child.stderr}`);
  const ours = JSON.parse(child.stdout.trim().split("\n").pop()!) as { seconds: number; read: number; written: number; max_rss_mb: number };
  await pgServer.stop();
  await source.stop();
  const total = (txs - half) * 1000 + half * 1000;
  return {
    scenario: "mysql-cdc",
    machine: machine(),
    started_at: new Date().toISOString(),
    figures: [
      {
        name: `binlog → mapping → context store, ${total.toLocaleString("en-US")} changes backlog, 1000-row transactions, cursor per batch`,
        value: total / ours.seconds,
        unit: "changes/s",
        baseline: { name: "mysqlbinlog --read-from-remote-server --verbose > /dev/null", value: total / decode.seconds },
        target: 0.5,
      },
    ],
    extra: { worker_peak_rss_mb: Math.round(ours.max_rss_mb), read: ours.read, written: ours.written },
  };
}

const SETUP_SCRIPT = (src: URL) => `
const { createSource } = await import("./server/sources/service.ts");
const { saveMappingVersion } = await import("./server/store/mappings.ts");
const { runSnapshot } = await import("./server/pipeline/snapshot.ts");
const { getStream } = await import("./server/store/streams.ts");
const s = await createSource({ name: "bench", config: ${MYSQL_SOURCE_CONFIG(src, "ecm_bench_cdc", 1000)} });
await saveMappingVersion(s.id, { mappings: [{ source: { table: "items" }, target: { context_type: "bench" }, fields: ${MYSQL_BENCH_FIELDS} }] }, "bench");
await runSnapshot(s.id, {});
console.log(s.id + " " + (await getStream(s.id)).capture_start);
process.exit(0);
`;
