// Change data capture:
//   drain:   a backlog of 300k changes (inserts, then updates of the same rows, in 1000-row
//            transactions) from the slot into the context store through the mapping, cursor
//            committed with every batch, beside pg_recvlogical (pgoutput) draining the same
//            backlog to /dev/null, same run; each half timed on its own (insert and update
//            backlogs), and a second anchor: PostgreSQL's native subscription applying it;
//   latency: commit-to-store p50/p99 at a steady 1,000 changes/s for 60 s (targets 50 / 250 ms).
// Peak worker RSS is reported for both (target < 300 MB). A third figure bounds what any pipeline
// writing the store can reach on this machine: the same writes as bare SQL, and the same again
// while pg_recvlogical decodes the backlog (the decoding any drain needs), no worker at all.
// The source and the store share one server unless --separate-source gives the source its own
// (a second embedded PostgreSQL on the same cores, or BENCH_SOURCE_DATABASE_URL).
//   npm run bench cdc [-- --changes 300000 --rate 1000 --seconds 60 --separate-source]
import crypto from "node:crypto";
import { spawn, spawnSync } from "node:child_process";
import pg from "pg";
import { benchPostgres, benchSourcePostgres, dropDatabase, freshDatabase, productDatabase, psqlShell, type BenchServer } from "../env.ts";
import { machine, numberArg, timed, withMachineBusy, type BenchResult } from "../harness.ts";
import { workerChild } from "../children.ts";
import { replicationNames } from "../../server/connectors/postgresql/connection.ts";

const TABLE = `CREATE TABLE cdc_items (id bigint PRIMARY KEY, a int, b int, name text, email text, doc text, at timestamptz, amount numeric(12,2))`;

export async function run(args: string[]): Promise<BenchResult> {
  // --separate-source: the source on a server of its own, as deployed but on the same cores (by
  // default one server holds both, and its walsender reads the store's WAL as well as the source's).
  const separate = args.includes("--separate-source");
  const server = await benchPostgres();
  let sourceServer = server;
  try {
    if (separate) {
      sourceServer = await benchSourcePostgres();
      // A source database left on the store's server by a run without the option holds a slot,
      // which would keep the store's WAL through this run.
      await dropDatabase(server, "ecm_bench_cdc");
    }
    return await measure(args, server, sourceServer, separate);
  } finally {
    await Promise.allSettled([server.stop(), ...(separate ? [sourceServer.stop()] : [])]);
  }
}

async function measure(args: string[], server: BenchServer, sourceServer: BenchServer, separate: boolean): Promise<BenchResult> {
  const changes = numberArg(args, "--changes", 300_000);
  const rate = numberArg(args, "--rate", 1000);
  const steadySeconds = numberArg(args, "--seconds", 60);
  const srcUrl = new URL(await freshDatabase(sourceServer, "ecm_bench_cdc"));
  const metaUrl = await productDatabase(server, "ecm_bench_cdc_meta");
  const src = new pg.Client({ connectionString: srcUrl.toString() });
  await src.connect();
  await src.query(TABLE);

  const childEnv = {
    ...process.env,
    DATABASE_URL: metaUrl,
    ECM_SECRET_KEY: crypto.randomBytes(32).toString("base64"),
    ECM_SOURCE_BENCH_PASSWORD: decodeURIComponent(srcUrl.password),
    ECM_LOG_LEVEL: "warn",
  };
  const setup = spawnSync(process.execPath, ["--import", "tsx", "-e", SETUP_SCRIPT(srcUrl)], { env: childEnv, encoding: "utf8" });
  if (setup.status !== 0) throw new Error(`setup failed: ${setup.stderr}`);
  const [sourceId, publication, quietBefore, loud, quietAfter, readOnly, readFrom] = setup.stdout.trim().split("\n").pop()!.split(" ") as [string, string, string, string, string, string, string];
  await src.query("SELECT pg_create_logical_replication_slot('bench_recv', 'pgoutput')");
  // A second copy for the ceiling below: the slot decoded while the store takes the same writes.
  await src.query("SELECT pg_create_logical_replication_slot('bench_recv_ceiling', 'pgoutput')");
  // The second anchor: PostgreSQL's own logical replication applying the same backlog into a
  // table shaped like the source, in a database of the store's server (its slot made now, so it
  // holds the backlog; a subscription in the source's own cluster must not create its slot itself).
  await src.query("CREATE PUBLICATION bench_native FOR TABLE cdc_items");
  await src.query("SELECT pg_create_logical_replication_slot('bench_native', 'pgoutput')");

  // The backlog: inserts, a marker (-10), then updates of the same rows, 1000 rows per
  // transaction, and a last marker (-1). The two halves are drained and timed one after the other.
  const txs = Math.max(2, Math.round(changes / 1000));
  const half = Math.floor(txs / 2);
  for (let t = 0; t < half; t++) {
    const last = t === half - 1;
    await src.query(`BEGIN; INSERT INTO cdc_items SELECT g, g % 1000, g % 7, 'name ' || g, 'User' || g || '@Example.com', '{"k": ' || g || ', "tags": ["a","b"]}', now(), g / 100.0
      FROM generate_series(${t * 1000 + 1}, ${t * 1000 + (last ? 999 : 1000)}) g;${last ? " INSERT INTO cdc_items VALUES (-10, 0, 0, 'marker', 'm@x', '{}', now(), 0);" : ""} COMMIT;`);
  }
  const insertsEnd = (await src.query("SELECT pg_current_wal_lsn()::text AS l")).rows[0].l as string;
  let updates = 0;
  for (let t = half; t < txs; t++) {
    const lo = ((t - half) % half) * 1000 + 1;
    const last = t === txs - 1;
    // The last inserted id is half*1000 - 1 (the marker took the last insert's place).
    const hi = Math.min(lo + (last ? 998 : 999), half * 1000 - 1);
    const r = await src.query(`BEGIN; UPDATE cdc_items SET a = a + 1, name = name || '.' WHERE id BETWEEN ${lo} AND ${hi};${last ? " INSERT INTO cdc_items VALUES (-1, 0, 0, 'marker', 'm@x', '{}', now(), 0);" : ""} COMMIT;`);
    updates += (r as unknown as pg.QueryResult[])[1]!.rowCount! + (last ? 1 : 0);
  }
  const endpos = (await src.query("SELECT pg_current_wal_lsn()::text AS l")).rows[0].l as string;
  const inserts = half * 1000;

  // Baseline: pg_recvlogical (pgoutput) drains the same backlog to /dev/null, half by half.
  const conn = ["-h", srcUrl.hostname, "-p", srcUrl.port, "-U", decodeURIComponent(srcUrl.username), "-d", "ecm_bench_cdc"];
  const recvArgs = (slot: string, lsn: string) => [...conn, "--slot", slot, "--start", "-o", "proto_version=1", "-o", `publication_names=${publication}`, "--endpos", lsn, "-f", "/dev/null"];
  const recvEnv = { ...process.env, PGPASSWORD: decodeURIComponent(srcUrl.password) };
  const recvUntil = (lsn: string) =>
    timed(async () => {
      const r = spawnSync("pg_recvlogical", recvArgs("bench_recv", lsn), { env: recvEnv, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`pg_recvlogical: ${r.stderr}`);
    });
  const recvInserts = await recvUntil(insertsEnd);
  const recvUpdates = await recvUntil(endpos);
  const recv = { seconds: recvInserts.seconds + recvUpdates.seconds };

  // Ours: a worker-like process streams the inserts into the store, then another the updates.
  const drainInserts = await streamUntilMarker(sourceId, childEnv, "bench", "-10");
  const drainUpdates = await streamUntilMarker(sourceId, childEnv, "bench", "-1");
  const drain = { seconds: drainInserts.seconds + drainUpdates.seconds, read: drainInserts.read + drainUpdates.read, max_rss_mb: Math.max(drainInserts.max_rss_mb, drainUpdates.max_rss_mb) };

  const native = await nativeSubscription(server, srcUrl);

  // The cost of the metrics: the same backlog drained again by three more sources of the same
  // database, into contexts of their own: metrics off, on, off (ECM_METRICS). Each drain writes
  // into a fuller table than the one before it, so the one with metrics is compared with the mean
  // of its two neighbours.
  const extraDrain = async (id: string, type: string, metrics: "on" | "off") => {
    const r = await streamUntilMarker(id, { ...childEnv, ECM_METRICS: metrics }, type, "-1");
    await src.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", [replicationNames(id).slot]);
    return r;
  };
  const quiet1 = await extraDrain(quietBefore, "bench-quiet-1", "off");
  const withMetrics = await extraDrain(loud, "bench-loud", "on");
  const quiet2 = await extraDrain(quietAfter, "bench-quiet-2", "off");
  const quietSeconds = (quiet1.seconds + quiet2.seconds) / 2;
  // Reading alone: the connector's change stream over the same backlog, nothing mapped or written.
  const reading = spawnSync(process.execPath, [...workerChild("cdc-read"), readOnly, readFrom, "cdc_items", "-1"], { env: childEnv, encoding: "utf8" });
  if (reading.status !== 0) throw new Error(`cdc-read failed: ${reading.stderr}`);
  const readAlone = JSON.parse(reading.stdout.trim().split("\n").pop()!) as { seconds: number; read: number; cpu_s: number };
  await src.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", [replicationNames(readOnly).slot]);
  if (readAlone.read < inserts + updates) throw new Error(`the change stream read ${readAlone.read} changes, expected ${inserts + updates}`);
  if (drain.read < inserts + updates) throw new Error(`read ${drain.read} changes, expected ${inserts + updates}`);

  // The store's own ceiling for the same writes, as favourable as it gets: the drained contexts
  // COPYed by psql into an empty table like contexts (the inserts), then all of them updated by
  // one statement (the updates). No decoding, no mapping, no per-batch transactions.
  const { psql, sh } = psqlShell(metaUrl);
  const metaDb = "ecm_bench_cdc_meta";
  sh(psql(metaDb, "DROP TABLE IF EXISTS contexts_ceiling; CREATE TABLE contexts_ceiling (LIKE contexts INCLUDING ALL)"));
  const ceilingWrites = () => {
    sh(`${psql(metaDb, "COPY (SELECT * FROM contexts WHERE context_type = 'bench') TO STDOUT")} | ${psql(metaDb, "COPY contexts_ceiling FROM STDIN")}`);
    sh(psql(metaDb, "UPDATE contexts_ceiling SET data = data || '{\\\"a\\\": 1}', position = position + 1, updated_at = now()"));
  };
  sh(psql(metaDb, "CHECKPOINT"));
  const ceiling = await timed(async () => ceilingWrites());
  // The same with the decoding any drain needs, at once: pg_recvlogical drains a second slot of
  // the backlog while the store takes the same writes as bare SQL. No worker at all: what no
  // design of a drain on this machine can beat (timed until both are done).
  sh(psql(metaDb, "TRUNCATE contexts_ceiling; CHECKPOINT"));
  const { result: ceilingDecoding, busy: ceilingDecodingBusy } = await withMachineBusy(() =>
    timed(async () => {
      const recv = new Promise<void>((resolve, reject) => {
        const p = spawn("pg_recvlogical", recvArgs("bench_recv_ceiling", endpos), { env: recvEnv, stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        p.stderr.on("data", (d: Buffer) => (err += d.toString()));
        p.on("error", reject);
        p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`pg_recvlogical: ${err}`))));
      });
      recv.catch(() => {}); // awaited below; handled here too should the writes throw first
      await new Promise((r) => setImmediate(r));
      ceilingWrites();
      await recv;
    }),
  );
  await src.query("SELECT pg_drop_replication_slot('bench_recv_ceiling')");

  // Steady load: `rate` changes/s in 20-row transactions for `steadySeconds`, then latency from the store.
  await src.query("SELECT pg_drop_replication_slot('bench_recv')");
  const steady = await steadyLatency(src, sourceId, childEnv, rate, steadySeconds, metaUrl);
  await src.end();

  const total = inserts + updates;
  return {
    scenario: "cdc",
    machine: machine(),
    started_at: new Date().toISOString(),
    figures: [
      {
        name: `drain ${total.toLocaleString("en-US")} changes (1000-row transactions) → mapping → context store, cursor per batch${separate ? ", the source on a server of its own" : ""}`,
        value: total / drain.seconds,
        unit: "changes/s",
        baseline: { name: "pg_recvlogical pgoutput → /dev/null", value: total / recv.seconds },
        target: 0.5,
      },
      {
        name: `the insert half: ${inserts.toLocaleString("en-US")} inserts drained`,
        value: inserts / drainInserts.seconds,
        unit: "changes/s",
        baseline: { name: "pg_recvlogical, the same half", value: inserts / recvInserts.seconds },
        target: 0.5,
      },
      {
        name: `the update half: ${updates.toLocaleString("en-US")} updates of those rows drained`,
        value: updates / drainUpdates.seconds,
        unit: "changes/s",
        baseline: { name: "pg_recvlogical, the same half", value: updates / recvUpdates.seconds },
        target: 0.35,
      },
      {
        name: "anchor: PostgreSQL's native logical replication (CREATE SUBSCRIPTION) applying the whole backlog into a table like the source",
        value: total / native.seconds,
        unit: "changes/s",
        baseline: { name: "pg_recvlogical pgoutput → /dev/null", value: total / recv.seconds },
      },
      {
        name: "the drain, against the native subscription",
        value: total / drain.seconds,
        unit: "changes/s",
        baseline: { name: "native subscription", value: total / native.seconds },
      },
      {
        name: "the same drain again with metrics on, against metrics off (mean of the drains just before and after it)",
        value: total / withMetrics.seconds,
        unit: "changes/s",
        baseline: { name: "drain with metrics off", value: total / quietSeconds },
      },
      {
        name: "reading alone: the connector's change stream over the same backlog (values decoded, nothing mapped or written)",
        value: total / readAlone.seconds,
        unit: "changes/s",
        baseline: { name: "pg_recvlogical pgoutput → /dev/null", value: total / recv.seconds },
      },
      {
        name: "ceiling: the same inserts and updates as bare SQL into a table like contexts (psql COPY, one UPDATE)",
        value: total / ceiling.seconds,
        unit: "changes/s",
        baseline: { name: "pg_recvlogical pgoutput → /dev/null", value: total / recv.seconds },
      },
      {
        name: "ceiling with decoding: the same bare SQL while pg_recvlogical decodes the backlog from a second slot, no worker at all",
        value: total / ceilingDecoding.seconds,
        unit: "changes/s",
        baseline: { name: "pg_recvlogical pgoutput → /dev/null", value: total / recv.seconds },
      },
    ],
    extra: {
      source_server: separate ? "separate" : "shared with the store",
      // The peak of a worker draining the whole backlog (the timed drain is two processes, a half each).
      drain_worker_peak_rss_mb: Math.round(Math.max(quiet1.max_rss_mb, withMetrics.max_rss_mb, quiet2.max_rss_mb)),
      drain_seconds: { inserts: drainInserts.seconds, updates: drainUpdates.seconds },
      // The worker's own CPU per change drained (µs, user + system): what the drain costs the
      // worker whatever else the machine was doing (a steadier figure than changes/s to compare).
      worker_cpu_us_per_change: {
        inserts: Math.round((1e6 * drainInserts.cpu_s) / inserts),
        updates: Math.round((1e6 * drainUpdates.cpu_s) / updates),
        metrics_off: [quiet1, quiet2].map((d) => Math.round((1e6 * d.cpu_s) / total)),
        metrics_on: Math.round((1e6 * withMetrics.cpu_s) / total),
        reading_alone: Math.round((1e6 * readAlone.cpu_s) / total),
      },
      // The whole machine's CPU in use (0..1, all cores) while each half drained, and during the
      // ceiling with decoding: near 1, the drain is bound by the machine's CPU.
      machine_busy: { inserts: drainInserts.machine_busy, updates: drainUpdates.machine_busy, ceiling_with_decoding: ceilingDecodingBusy },
      // The two drains with metrics off, before and after the measured one (changes/s): their
      // spread is the noise the metrics figure sits in.
      metrics_off_drains: [Math.round(total / quiet1.seconds), Math.round(total / quiet2.seconds)],
      steady: {
        rate_changes_per_s: rate,
        seconds: steadySeconds,
        changes: steady.changes,
        p50_ms: steady.p50,
        p99_ms: steady.p99,
        max_ms: steady.max,
        targets_ms: { p50: 50, p99: 250 },
        worker_peak_rss_mb: Math.round(steady.max_rss_mb),
      },
    },
  };
}

/**
 * PostgreSQL's own subscriber applying the backlog (slot bench_native, publication bench_native)
 * into an empty copy of the table in another database: seconds until the last marker is applied.
 * It is favoured: its apply worker commits without waiting for the WAL flush (the subscription's
 * synchronous_commit defaults to off), where our stream batches wait for it.
 */
async function nativeSubscription(server: BenchServer, srcUrl: URL): Promise<{ seconds: number }> {
  const target = new pg.Client({ connectionString: await freshDatabase(server, "ecm_bench_cdc_native") });
  await target.connect();
  try {
    await target.query(TABLE);
    const value = (v: string) => `'${v.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
    const publisher = `host=${value(srcUrl.hostname)} port=${value(srcUrl.port)} user=${value(decodeURIComponent(srcUrl.username))} password=${value(decodeURIComponent(srcUrl.password))} dbname=ecm_bench_cdc`;
    const { seconds } = await timed(async () => {
      await target.query(`CREATE SUBSCRIPTION bench_native CONNECTION ${target.escapeLiteral(publisher)} PUBLICATION bench_native WITH (create_slot = false, slot_name = 'bench_native', copy_data = false)`);
      const deadline = Date.now() + 10 * 60_000;
      while (!(await target.query("SELECT 1 FROM cdc_items WHERE id = -1")).rowCount) {
        if (Date.now() > deadline) throw new Error("the native subscription did not apply the backlog within 10 minutes");
        await new Promise((r) => setTimeout(r, 10));
      }
    });
    return { seconds };
  } finally {
    // Whatever happened: no subscription left behind (it would hold the slot and the database).
    await target.query("DROP SUBSCRIPTION IF EXISTS bench_native").catch(async () => {
      await target.query("ALTER SUBSCRIPTION bench_native DISABLE").catch(() => {});
      await target.query("ALTER SUBSCRIPTION bench_native SET (slot_name = NONE)").catch(() => {});
      await target.query("DROP SUBSCRIPTION IF EXISTS bench_native").catch(() => {});
    });
    await target.end();
  }
}

function streamUntilMarker(sourceId: string, env: NodeJS.ProcessEnv, type: string, id: string, onReady?: () => void): Promise<{ seconds: number; read: number; max_rss_mb: number; machine_busy: number | null; cpu_s: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...workerChild("cdc"), sourceId, type, id], { env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready\n") && onReady) {
        const f = onReady;
        onReady = undefined;
        f();
      }
    });
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").pop()!)) : reject(new Error(`cdc child exited ${code}`))));
  });
}

async function steadyLatency(src: pg.Client, sourceId: string, env: NodeJS.ProcessEnv, rate: number, seconds: number, metaUrl: string) {
  const perTx = 20;
  const txPerSecond = rate / perTx;
  let writing: Promise<void> = Promise.resolve();
  const result = await streamUntilMarker(sourceId, env, "bench", "-2", () => {
    writing = (async () => {
      // Warm-up: the steady load starts once the stream is live (a first change is in the store);
      // before that the walsender re-reads WAL since the slot's restart point.
      await src.query("INSERT INTO cdc_items VALUES (-3, 0, 0, 'warm-up', 'w@x', '{}', now(), 0)");
      const meta = new pg.Client({ connectionString: metaUrl });
      await meta.connect();
      while (!(await meta.query("SELECT 1 FROM contexts WHERE context_type = 'bench' AND context_id = '-3'")).rowCount) await new Promise((r) => setTimeout(r, 20));
      await meta.end();
      const start = Date.now();
      const total = Math.round(txPerSecond * seconds);
      for (let i = 0; i < total; i++) {
        const due = start + (i * 1000) / txPerSecond;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const base = 1_000_000 + i * perTx;
        // `at` is the commit time (clock_timestamp at the end of the transaction's work).
        await src.query(`INSERT INTO cdc_items SELECT g, 0, 0, 'steady', 's@x', '{}', clock_timestamp(), 0 FROM generate_series(${base}, ${base + perTx - 1}) g`);
      }
      await src.query("INSERT INTO cdc_items VALUES (-2, 0, 0, 'marker', 'm@x', '{}', clock_timestamp(), 0)");
    })();
  });
  await writing;
  const meta = new pg.Client({ connectionString: metaUrl });
  await meta.connect();
  const { rows } = await meta.query<{ ms: number }>(
    `SELECT extract(epoch FROM (updated_at - (data->>'at')::timestamptz)) * 1000 AS ms FROM contexts WHERE context_type = 'bench' AND context_id::bigint >= 1000000 ORDER BY 1`,
  );
  await meta.end();
  const ms = rows.map((r) => Number(r.ms));
  const q = (p: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]! * 10) / 10;
  return { changes: ms.length, p50: q(0.5), p99: q(0.99), max: q(1 - 1e-9), max_rss_mb: result.max_rss_mb };
}

const SETUP_SCRIPT = (src: URL) => `
const { createSource } = await import("./server/sources/service.ts");
const { saveMappingVersion } = await import("./server/store/mappings.ts");
const { withConnector } = await import("./server/sources/connectivity.ts");
const { replicationNames } = await import("./server/connectors/postgresql/connection.ts");
const s = await createSource({ name: "bench-cdc", config: {
  connector_type: "postgresql",
  connection: { host: "${src.hostname}", port: ${Number(src.port)}, database: "ecm_bench_cdc", ssl_mode: "disable" },
  authentication: { type: "credentials", username: "${decodeURIComponent(src.username)}", password_secret: "env://ECM_SOURCE_BENCH_PASSWORD" },
  options: { batch_size: 1000, change_tracking: "cdc" } } });
await saveMappingVersion(s.id, { mappings: [{ source: { table: "cdc_items" }, target: { context_type: "bench" }, fields: [
  { source: "id", target: "context_id" }, { source: "a", target: "data.a" }, { source: "b", target: "data.b" },
  { source: "name", target: "data.name" }, { source: "email", target: "data.email", transform: "lowercase" },
  { source: "doc", target: "data.doc", transform: "json_parse" }, { source: "at", target: "data.at" }, { source: "amount", target: "data.amount" } ] }] }, "bench");
const quiet = [];
for (const type of ["bench-quiet-1", "bench-loud", "bench-quiet-2", "bench-read"]) {
  const q = await createSource({ name: type, config: s.config });
  await saveMappingVersion(q.id, { mappings: [{ source: { table: "cdc_items" }, target: { context_type: type }, fields: [
    { source: "id", target: "context_id" }, { source: "a", target: "data.a" }, { source: "b", target: "data.b" },
    { source: "name", target: "data.name" }, { source: "email", target: "data.email", transform: "lowercase" },
    { source: "doc", target: "data.doc", transform: "json_parse" }, { source: "at", target: "data.at" }, { source: "amount", target: "data.amount" } ] }] }, "bench");
  quiet.push(q.id);
}
const starts = [];
for (const id of [s.id, ...quiet]) starts.push((await withConnector(id, (c) => c.prepareCapture(["cdc_items"], { replace: false }))).start);
console.log(s.id + " " + replicationNames(s.id).publication + " " + quiet.join(" ") + " " + starts[starts.length - 1]);
process.exit(0);
`;
