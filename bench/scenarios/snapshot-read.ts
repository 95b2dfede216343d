// Snapshot extraction of a 1M-row, 8-column table (ints, text, jsonb, timestamptz, numeric) to a
// null sink, through the connector (typed values, keyset chunks), in a process of its own; baseline
// `psql -c "COPY … TO STDOUT" > /dev/null` on the same table in the same run.
//   npm run bench snapshot-read [-- --rows 1000000 --batch 1000]
import { execFileSync, spawnSync } from "node:child_process";
import pg from "pg";
import { benchPostgres, type BenchServer } from "../env.ts";
import { machine, numberArg, timed, type BenchResult } from "../harness.ts";
import { workerChild } from "../children.ts";


export async function run(args: string[]): Promise<BenchResult> {
  const rows = numberArg(args, "--rows", 1_000_000);
  const batch = numberArg(args, "--batch", 1000);
  const server = await benchPostgres();
  const url = new URL(await ensureSnapshotReadTable(server, rows));
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(url.password) };
  const psqlArgs = ["-h", url.hostname, "-p", url.port, "-U", decodeURIComponent(url.username), "-d", "ecm_bench_src", "-c", "COPY snapshot_read TO STDOUT"];
  execFileSync("psql", [...psqlArgs.slice(0, -1), "SELECT 1"], { env }); // psql present and connecting
  // Warm the cache once, then time each side.
  spawnSync("sh", ["-c", `psql ${psqlArgs.map((a) => `'${a}'`).join(" ")} > /dev/null`], { env });
  const psql = await timed(async () => {
    const r = spawnSync("sh", ["-c", `psql ${psqlArgs.map((a) => `'${a}'`).join(" ")} > /dev/null`], { env });
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  });

  process.env.ECM_SOURCE_BENCH_PASSWORD = decodeURIComponent(url.password);
  const config = {
    connector_type: "postgresql",
    connection: { host: url.hostname, port: Number(url.port), database: "ecm_bench_src", ssl_mode: "disable" },
    authentication: { type: "credentials", username: decodeURIComponent(url.username), password_secret: "env://ECM_SOURCE_BENCH_PASSWORD" },
    options: { batch_size: batch, change_tracking: "snapshot" },
  };
  const child = spawnSync(process.execPath, [...workerChild("snapshot-read"), JSON.stringify(config), "snapshot_read", String(batch)], {
    env: { ...process.env, ECM_SECRET_KEY: Buffer.alloc(32).toString("base64"), DATABASE_URL: "postgresql://unused/unused", ECM_LOG_LEVEL: "warn" },
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  if (child.status !== 0) throw new Error(`extraction failed: ${child.stderr}`);
  const ours = JSON.parse(child.stdout.trim().split("\n").pop()!) as { rows: number; seconds: number; max_rss_mb: number };
  if (ours.rows !== rows) throw new Error(`extracted ${ours.rows} rows, expected ${rows}`);
  await server.stop();

  return {
    scenario: "snapshot-read",
    machine: machine(),
    started_at: new Date().toISOString(),
    figures: [
      {
        name: `connector extraction, ${rows.toLocaleString("en-US")} rows × 8 columns, batch ${batch}`,
        value: rows / ours.seconds,
        unit: "rows/s",
        baseline: { name: 'psql -c "COPY … TO STDOUT" > /dev/null', value: rows / psql.seconds },
        target: 0.5,
      },
    ],
    extra: { worker_peak_rss_mb: Math.round(ours.max_rss_mb), rss_target_mb: 300, batch_size: batch },
  };
}

/** The 1M-row, 8-column table both snapshot benchmarks read (made once, reused while its size matches). */
export async function ensureSnapshotReadTable(server: BenchServer, rows: number): Promise<string> {
  const admin = new pg.Client({ connectionString: server.url("postgres") });
  await admin.connect();
  if (!(await admin.query("SELECT 1 FROM pg_database WHERE datname = 'ecm_bench_src'")).rowCount) await admin.query("CREATE DATABASE ecm_bench_src");
  await admin.end();
  const url = server.url("ecm_bench_src");
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const have = await db.query("SELECT count(*)::int AS n FROM pg_class WHERE relname = 'snapshot_read' AND reltuples = $1", [rows]);
  if (!have.rows[0].n) {
    console.error(`[bench] creating snapshot_read with ${rows} rows…`);
    await db.query(`DROP TABLE IF EXISTS snapshot_read`);
    await db.query(`CREATE TABLE snapshot_read (id bigint PRIMARY KEY, a int, b int, name text, email text, doc jsonb, at timestamptz, amount numeric(12,2))`);
    await db.query(
      `INSERT INTO snapshot_read SELECT i, i % 1000, i % 7, 'name ' || i, 'user' || i || '@example.com',
         jsonb_build_object('n', i, 'tags', jsonb_build_array('a', 'b'), 'ok', i % 2 = 0),
         timestamptz '2024-01-01 00:00:00+00' + make_interval(secs => i), (i % 100000) / 100.0
       FROM generate_series(1, ${rows}) i`,
    );
    await db.query("VACUUM ANALYZE snapshot_read");
  }
  await db.end();
  return url;
}
