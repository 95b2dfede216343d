// A whole snapshot: 1M source rows → connector → compiled mapping → context store, with a
// checkpoint committed with every chunk, in a worker-like process of its own. Baseline, same run:
// `psql -c "COPY … TO STDOUT" | psql -c "COPY … FROM STDIN"` into a table with the same primary key
// (the target's baseline), and into a plain table, of the same server.
// A second figure shows the store's own ceiling: the finished contexts piped the same way into an
// empty table shaped like `contexts`, i.e. what no pipeline writing that table can beat here.
// Then the same rows as two tables of half the size, snapshotted by two worker-like processes at
// once (a run's entities go to any free worker), and how busy the machine was during each run.
//   npm run bench snapshot-e2e [-- --rows 1000000 --batch 1000]
import crypto from "node:crypto";
import { spawn, spawnSync } from "node:child_process";
import pg from "pg";
import { benchPostgres, productDatabase, psqlShell } from "../env.ts";
import { machine, numberArg, timed, withMachineBusy, workerShare, childSetting, type BenchResult } from "../harness.ts";
import { workerChild } from "../children.ts";
import { ensureSnapshotReadTable } from "./snapshot-read.ts";


export async function run(args: string[]): Promise<BenchResult> {
  const rows = numberArg(args, "--rows", 1_000_000);
  const batch = numberArg(args, "--batch", 1000);
  const server = await benchPostgres();
  const src = new URL(await ensureSnapshotReadTable(server, rows));
  // The source database stays (it is slow to fill); slots of earlier runs in it do not.
  const admin = new pg.Client({ connectionString: server.url("postgres") });
  await admin.connect();
  await admin.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = 'ecm_bench_src'");
  await admin.end();
  const metaUrl = await productDatabase(server, "ecm_bench_meta");

  // Baseline: the same rows piped between two psql processes into a plain table.
  const { psql, sh } = psqlShell(src.toString());
  const pipeInto = async (like: string) => {
    sh(psql("ecm_bench_src", `DROP TABLE IF EXISTS copy_target; CREATE TABLE copy_target (${like})`));
    const t = await timed(async () => sh(`${psql("ecm_bench_src", "COPY snapshot_read TO STDOUT")} | ${psql("ecm_bench_src", "COPY copy_target FROM STDIN")}`));
    sh(psql("ecm_bench_src", "DROP TABLE copy_target"));
    return t;
  };
  const pipe = await pipeInto("LIKE snapshot_read");
  // The same pipe into a table with the source's primary key (the target's baseline: a store
  // maintains a unique index too).
  const { result: pipeKeyed, busy: pipeKeyedBusy } = await withMachineBusy(() => pipeInto("LIKE snapshot_read INCLUDING INDEXES"));

  // The product: a source, a mapping, one snapshot run.
  const childEnv = {
    ...process.env,
    DATABASE_URL: metaUrl,
    ECM_SECRET_KEY: crypto.randomBytes(32).toString("base64"),
    ECM_SOURCE_BENCH_PASSWORD: decodeURIComponent(src.password),
    ECM_LOG_LEVEL: "warn",
  };
  const setup = (tables: string[]) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "-e", SETUP_SCRIPT(src, batch, tables)], { env: childEnv, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`setup failed: ${r.stderr}`);
    return r.stdout.trim().split("\n").pop()!;
  };
  const sourceId = setup(["snapshot_read"]);
  const ours = await snapshotChild(childEnv, sourceId, batch, "snapshot_read");
  if (ours.rows !== rows || ours.written !== rows) throw new Error(`read ${ours.rows}, wrote ${ours.written}, expected ${rows}`);

  // The store's own ceiling on this machine: the same mapped contexts, already built, piped by
  // psql into an empty table shaped like contexts (its indexes, jsonb), no mapping, no checks.
  sh(psql("ecm_bench_meta", "DROP TABLE IF EXISTS contexts_ceiling; CREATE TABLE contexts_ceiling (LIKE contexts INCLUDING ALL)"));
  const ceiling = await timed(async () => sh(`${psql("ecm_bench_meta", "COPY contexts TO STDOUT")} | ${psql("ecm_bench_meta", "COPY contexts_ceiling FROM STDIN")}`));
  // The best a pipeline could do here with no worker at all: the same finished contexts piped by
  // two psql pairs at once (halves of the ids), the way the product commits two chunks at once.
  const middle = sh(psql("ecm_bench_meta", "COPY (SELECT context_id FROM contexts ORDER BY context_id OFFSET (SELECT count(*) / 2 FROM contexts) LIMIT 1) TO STDOUT")).trim();
  if (!/^[0-9]+$/.test(middle)) throw new Error(`unexpected middle id ${JSON.stringify(middle)}`);
  sh(psql("ecm_bench_meta", "TRUNCATE contexts_ceiling; CHECKPOINT"));
  const half = (where: string) => `${psql("ecm_bench_meta", `COPY (SELECT * FROM contexts WHERE ${where}) TO STDOUT`)} | ${psql("ecm_bench_meta", "COPY contexts_ceiling FROM STDIN")}`;
  const bothHalves = `(${half(`context_id < '${middle}'`)}) & a=$!; (${half(`context_id >= '${middle}'`)}) & b=$!; wait $a && wait $b`;
  const ceilingTwo = await timed(async () => sh(bothHalves));
  // And a first load that bypasses per-row index maintenance: the same two pipes into the table
  // without its indexes, which are built after (what a load into a fresh partition would cost).
  sh(psql("ecm_bench_meta", "DROP TABLE contexts_ceiling; CREATE TABLE contexts_ceiling (LIKE contexts INCLUDING DEFAULTS); CHECKPOINT"));
  // contexts' own indexes, whatever they are today, recreated on the copy.
  const indexes = sh(psql("ecm_bench_meta", "COPY (SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'contexts') TO STDOUT"))
    .trim()
    .split("\n")
    .map((def) => def.replace(/INDEX (\S+) ON public\.contexts /, "INDEX $1_ceiling ON public.contexts_ceiling "));
  if (!indexes.length || indexes.some((d) => !d.includes("contexts_ceiling"))) throw new Error(`unexpected index definitions: ${indexes.join("; ")}`);
  const ceilingIndexAfter = await timed(async () => {
    sh(bothHalves);
    sh(psql("ecm_bench_meta", indexes.join("; ")));
  });

  // Two worker processes: the same rows as two tables of half the size, one per worker, into an
  // empty store (a run's entities are read in parallel by whichever workers are free; the run's
  // capture is prepared once before, as snapshot.run does). Timed from the first start to the last end.
  await ensureHalves(src.toString(), rows);
  sh(psql("ecm_bench_meta", "DROP TABLE contexts_ceiling; TRUNCATE contexts, snapshot_checkpoints; CHECKPOINT"));
  const halvesId = setup(HALVES);
  const parts = await Promise.all(HALVES.map((table) => snapshotChild(childEnv, halvesId, batch, table)));
  const partsRead = parts.reduce((n, p) => n + p.rows, 0);
  if (partsRead !== rows || parts.reduce((n, p) => n + p.written, 0) !== rows) throw new Error(`two workers read ${partsRead}, expected ${rows}`);
  const twoWorkers = { seconds: (Math.max(...parts.map((p) => p.ended_at_ms)) - Math.min(...parts.map((p) => p.started_at_ms))) / 1000 };
  await server.stop();

  return {
    scenario: "snapshot-e2e",
    machine: machine(),
    started_at: new Date().toISOString(),
    figures: [
      {
        name: `snapshot → mapping → context store, ${rows.toLocaleString("en-US")} rows, pages of ${batch}, checkpoint per commit of ${childSetting("ECM_SNAPSHOT_COMMIT_ROWS")} rows`,
        value: rows / ours.seconds,
        unit: "rows/s",
        baseline: { name: "psql COPY TO | psql COPY FROM (table with a primary key)", value: rows / pipeKeyed.seconds },
        target: 0.5,
      },
      {
        name: `the same rows as two tables of half the size, snapshotted by two worker processes at once`,
        value: rows / twoWorkers.seconds,
        unit: "rows/s",
        baseline: { name: "psql COPY TO | psql COPY FROM (table with a primary key)", value: rows / pipeKeyed.seconds },
        target: 0.5,
      },
      {
        name: "the same snapshot",
        value: rows / ours.seconds,
        unit: "rows/s",
        baseline: { name: "psql COPY TO | psql COPY FROM (plain table)", value: rows / pipe.seconds },
      },
      {
        name: "ceiling: the same contexts, already mapped, psql-piped into an empty table like contexts (indexes, jsonb)",
        value: rows / ceiling.seconds,
        unit: "rows/s",
        baseline: { name: "psql COPY TO | psql COPY FROM (plain table)", value: rows / pipe.seconds },
      },
      {
        name: "ceiling, two sessions: the same, by two psql pairs at once (halves of the ids), no worker at all",
        value: rows / ceilingTwo.seconds,
        unit: "rows/s",
        baseline: { name: "psql COPY TO | psql COPY FROM (table with a primary key)", value: rows / pipeKeyed.seconds },
      },
      {
        name: "ceiling, two sessions into the table without indexes, its indexes built after (a first load into a fresh partition)",
        value: rows / ceilingIndexAfter.seconds,
        unit: "rows/s",
        baseline: { name: "psql COPY TO | psql COPY FROM (table with a primary key)", value: rows / pipeKeyed.seconds },
      },
    ],
    extra: {
      worker_peak_rss_mb: Math.round(ours.max_rss_mb),
      two_workers_peak_rss_mb: parts.map((p) => Math.round(p.max_rss_mb)),
      worker_cpu_share: workerShare(ours),
      two_workers_cpu_share: parts.map(workerShare),
      // The whole machine's CPU in use (0..1, all cores) during each run: near 1, the run was bound
      // by the machine, and only less CPU per row (anywhere) makes it faster.
      machine_busy: { ours: ours.machine_busy, two_workers: parts.map((p) => p.machine_busy), keyed_pipe: pipeKeyedBusy },
      batch_size: batch,
      commits_in_flight: childSetting("ECM_SNAPSHOT_COMMITS_IN_FLIGHT"),
    },
  };
}

export type SnapshotChildResult = { rows: number; written: number; seconds: number; started_at_ms: number; ended_at_ms: number; max_rss_mb: number; cpu_user_s: number; cpu_system_s: number; machine_busy: number | null };

/**
 * A worker-like process (bench/children/snapshot-e2e.ts) snapshotting the source, or one entity of
 * it; BENCH_MEMORY=1 shows its memory peaks.
 */
export function snapshotChild(env: NodeJS.ProcessEnv, sourceId: string, batch: number, entity?: string): Promise<SnapshotChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...workerChild("snapshot-e2e"), sourceId, String(batch), ...(entity ? [entity] : [])], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`snapshot failed (${code}): ${err}`));
      // BENCH_MEMORY=1: the child's memory peaks, shown as it printed them.
      if (process.env.BENCH_MEMORY) process.stderr.write(err.split("\n").filter((l) => l.includes("memory peaks")).map((l) => `[${entity ?? "snapshot"}] ${l}\n`).join(""));
      resolve(JSON.parse(out.trim().split("\n").pop()!) as SnapshotChildResult);
    });
  });
}

const HALVES = ["snapshot_read_1", "snapshot_read_2"];

/** snapshot_read's rows as two tables of half the size (made once, reused while their sizes match). */
async function ensureHalves(url: string, rows: number) {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const first = Math.floor(rows / 2);
    const sizes = [first, rows - first];
    // Exact counts (reltuples is an estimate on large tables); the rows themselves are made the
    // same way every time (ensureSnapshotReadTable), so equal counts mean equal halves.
    const count = async (table: string) => {
      if (!(await db.query("SELECT 1 FROM pg_class WHERE relname = $1 AND relkind = 'r'", [table])).rowCount) return -1;
      return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
    };
    let same = true;
    for (const [i, table] of HALVES.entries()) same &&= (await count(table)) === sizes[i];
    if (same) return;
    for (const [i, table] of HALVES.entries()) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
      await db.query(`CREATE TABLE ${table} (LIKE snapshot_read INCLUDING ALL)`);
      await db.query(`INSERT INTO ${table} SELECT * FROM snapshot_read WHERE ${i === 0 ? `id <= ${first}` : `id > ${first}`}`);
      await db.query(`VACUUM ANALYZE ${table}`);
    }
  } finally {
    await db.end();
  }
}

const SETUP_SCRIPT = (src: URL, batch: number, tables: string[]) => `
const { createSource } = await import("./server/sources/service.ts");
const { saveMappingVersion } = await import("./server/store/mappings.ts");
const s = await createSource({ name: ${JSON.stringify(tables.length > 1 ? "bench-halves" : "bench")}, config: {
  connector_type: "postgresql",
  connection: { host: "${src.hostname}", port: ${Number(src.port)}, database: "ecm_bench_src", ssl_mode: "disable" },
  authentication: { type: "credentials", username: "${decodeURIComponent(src.username)}", password_secret: "env://ECM_SOURCE_BENCH_PASSWORD" },
  options: { batch_size: ${batch}, change_tracking: "cdc" } } });
await saveMappingVersion(s.id, { mappings: ${JSON.stringify(tables)}.map((table) => ({ source: { table }, target: { context_type: "bench" }, fields: [
  { source: "id", target: "context_id" }, { source: "a", target: "data.a" }, { source: "b", target: "data.b" },
  { source: "name", target: "data.name" }, { source: "email", target: "data.email", transform: "lowercase" },
  { source: "doc", target: "data.doc" }, { source: "at", target: "data.at" }, { source: "amount", target: "data.amount" } ] })) }, "bench");
// Change capture is prepared before any entity is read, as a run's snapshot.run job does before
// its entities go to the workers: the timed snapshots read and write only.
const { prepareSnapshot } = await import("./server/pipeline/snapshot.ts");
await prepareSnapshot(s.id, { full: true });
console.log(s.id);
process.exit(0);
`;
