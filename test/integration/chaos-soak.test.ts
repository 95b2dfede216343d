// The chaos soak (issue #25): a steady write workload on several tables (inserts, updates,
// deletes, multi-row transactions, key changes) streamed by three real worker processes while
// faults are injected at random: kill -9 of a worker (another is started), the source crashing
// (immediate shutdown) and restarting, the network to the source cut for seconds, and Redis
// restarting. It ends when the faults stop and the workload goes quiet: the store must then equal
// the source row by row, with no dead letter. It prints what it injected and how long convergence
// took. Throughout, a sampler checks the mechanism: the slot is never acknowledged past the
// store's durable cursor. Two minutes inside `npm test`; `npm run test:soak -- --minutes N` for longer
// (ECM_SOAK_MINUTES), with ECM_SOAK_SEED to replay a sequence of faults.
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../scripts/lib/embedded-postgres.ts";
import { ensureRedis, type RedisHandle } from "../../scripts/lib/redis-server.ts";
import { reloadEnv } from "../../server/env.ts";
import { parseLsn, parseLsnCursor } from "../../server/connectors/postgresql/lsn.ts";
import { adminToken, api, createEditorToken } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { tcpProxy } from "../support/tcp-proxy.ts";
import { serverSourceConfig } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";
import { repeatUntilStopped } from "../support/workload.ts";
import { killWorkers, spawnWorker, type WorkerProcess } from "../support/worker-process.ts";

const MINUTES = Number(process.env.ECM_SOAK_MINUTES ?? 2);
const SEED = Number(process.env.ECM_SOAK_SEED ?? Date.now() % 1_000_000);
// Below Linux's ephemeral range (32768–60999): restarted on its port, never taken by a client's local end.
const SOURCE = { dir: path.resolve(".data/test/pg-soak-source"), port: 25345, password: "soak-source-pw" };
const REDIS = { dataDir: path.resolve(".data/test/soak"), port: 6393, log: () => {}, useLocal: false };
const TABLES = {
  accounts: "id int PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL",
  orders: "id int PRIMARY KEY, account int NOT NULL, amount int NOT NULL, note text",
  events: "id int PRIMARY KEY, kind text NOT NULL, payload jsonb",
} as const;
type Table = keyof typeof TABLES;
const COLUMNS: Record<Table, string[]> = { accounts: ["owner", "balance"], orders: ["account", "amount", "note"], events: ["kind", "payload"] };

let source: EmbeddedPostgres;
let redis: RedisHandle;
let proxy: ReturnType<typeof tcpProxy>;
let sourceId: string;
let editor: string;
const workers: WorkerProcess[] = [];

/** A small seeded generator (mulberry32): the same seed injects the same faults in the same order. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = random(SEED);
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function src<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]) {
  const c = new pg.Client({ connectionString: source.url("soak"), connectionTimeoutMillis: 3000 });
  c.on("error", () => {});
  await c.connect();
  try {
    return await c.query<T>(sql, params);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Differences between the source and the store, table by table (empty: equal). */
async function differences(): Promise<string[]> {
  const out: string[] = [];
  for (const table of Object.keys(TABLES) as Table[]) {
    const cols = COLUMNS[table];
    const rows = Object.fromEntries((await src(`SELECT id, ${cols.join(", ")} FROM ${table}`)).rows.map((r) => [String(r.id), Object.fromEntries(cols.map((c) => [c, r[c] === null ? null : c === "balance" ? String(r[c]) : r[c]]))]));
    // bigint as text on both sides (the store keeps it exact, as a number while it is safe).
    const stored = await withDb(async (c) => Object.fromEntries((await c.query("SELECT context_id, data FROM contexts WHERE context_type = $1 AND NOT deleted", [table])).rows.map((r) => [r.context_id, "balance" in r.data ? { ...r.data, balance: String(r.data.balance) } : r.data])));
    if (!isDeepStrictEqual(rows, stored)) {
      const wrong = Object.keys(rows).filter((k) => !isDeepStrictEqual(rows[k], stored[k]));
      const extra = Object.keys(stored).filter((k) => !(k in rows));
      out.push(`${table}: ${wrong.length} missing or different (e.g. ${wrong.slice(0, 3).join(", ")}), ${extra.length} extra (e.g. ${extra.slice(0, 3).join(", ")})`);
    }
  }
  return out;
}

/** The workload: one operation at a time against the source directly (not through the proxy), riding out its crashes. */
function workload() {
  const counts = { inserts: 0, updates: 0, deletes: 0, transactions: 0, key_changes: 0 };
  let next = 1_000_000;
  const ids = async (table: Table, n: number) => (await src<{ id: number }>(`SELECT id FROM ${table} ORDER BY random() LIMIT ${n}`)).rows.map((r) => r.id);
  const op = async () => {
    const table = pick(Object.keys(TABLES) as Table[]);
    const kind = pick(["insert", "insert", "update", "update", "update", "delete", "transaction", "key_change"] as const);
    const id = next++;
    if (kind === "insert") {
      if (table === "accounts") await src("INSERT INTO accounts VALUES ($1, $2, $3)", [id, `owner ${id}`, Math.floor(rand() * 1e9)]);
      else if (table === "orders") await src("INSERT INTO orders VALUES ($1, $2, $3, $4)", [id, Math.floor(rand() * 1000), Math.floor(rand() * 1000), rand() < 0.3 ? null : `note ${id}`]);
      else await src("INSERT INTO events VALUES ($1, $2, $3)", [id, pick(["click", "view", "buy"]), JSON.stringify({ n: id, nested: { at: rand() } })]);
      counts.inserts++;
    } else if (kind === "update") {
      const [target] = await ids(table, 1);
      if (target === undefined) return;
      if (table === "accounts") await src("UPDATE accounts SET balance = balance + $2 WHERE id = $1", [target, Math.floor(rand() * 100) - 50]);
      else if (table === "orders") await src("UPDATE orders SET amount = amount + 1, note = $2 WHERE id = $1", [target, `edited ${id}`]);
      else await src("UPDATE events SET payload = jsonb_set(coalesce(payload, '{}'), '{edited}', to_jsonb($2::int)) WHERE id = $1", [target, id]);
      counts.updates++;
    } else if (kind === "delete") {
      const [target] = await ids(table, 1);
      if (target === undefined) return;
      await src(`DELETE FROM ${table} WHERE id = $1`, [target]);
      counts.deletes++;
    } else if (kind === "transaction") {
      const targets = await ids("accounts", 5);
      await src(`BEGIN; UPDATE accounts SET balance = balance - 1 WHERE id = ANY('{${targets.join(",")}}'::int[]); INSERT INTO orders VALUES (${id}, ${targets[0] ?? 0}, 1, 'tx'); INSERT INTO events VALUES (${id}, 'tx', NULL); COMMIT;`);
      counts.transactions++;
    } else {
      const [target] = await ids(table, 1);
      if (target === undefined) return;
      await src(`UPDATE ${table} SET id = $2 WHERE id = $1`, [target, id]);
      counts.key_changes++;
    }
  };
  // A failure: the source is down, or a row vanished under a concurrent op (the source decides).
  const load = repeatUntilStopped(op);
  return { counts, get failed() { return load.failed; }, stop: load.stop };
}

/**
 * The promise's mechanism, sampled throughout: the source is never told more is durable than the
 * store holds (the slot's confirmed_flush_lsn never ahead of the stored cursor). The slot is read
 * first: a cursor read after it can only be further on.
 */
function sampleAcknowledgements() {
  let on = true;
  const violations: string[] = [];
  let samples = 0;
  const slot = `ecm_slot_${sourceId.replaceAll("-", "")}`;
  const done = (async () => {
    const store = new pg.Client({ connectionString: process.env.DATABASE_URL });
    store.on("error", () => {});
    await store.connect();
    try {
      while (on) {
        const confirmed = await src<{ l: string | null }>("SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = $1", [slot])
          .then((r) => r.rows[0]?.l ?? null)
          .catch(() => null); // the source is down: nothing to compare
        const cursor = (await store.query<{ cursor: string | null }>("SELECT cursor FROM streams WHERE source_id = $1", [sourceId])).rows[0]?.cursor ?? null;
        if (confirmed && cursor) {
          samples++;
          if (parseLsn(confirmed) > parseLsnCursor(cursor)) violations.push(`${confirmed} > ${cursor}`);
        }
        await sleep(20);
      }
    } finally {
      await store.end();
    }
  })();
  done.catch(() => {}); // a failure is reported by stop(), not as an unhandled rejection meanwhile
  return { violations, get samples() { return samples; }, stop: async () => ((on = false), await done) };
}

function startWorker() {
  const w = spawnWorker({ REDIS_URL: redis.url, ECM_RETRY_INITIAL_MS: "200", ECM_RETRY_MAX_MS: "3000" });
  workers.push(w);
  void w.exited.then(() => workers.splice(workers.indexOf(w), 1));
  return w;
}

/** The faults, each undone before it returns; the soak draws one every 6–12 s. */
const FAULTS = {
  kill_worker: async () => {
    pick(workers).child.kill("SIGKILL");
    await sleep(500 + rand() * 2000);
    startWorker();
  },
  source_crash: async () => {
    await source.crash();
    await sleep(1000 + rand() * 2000);
    source = await startEmbeddedPostgres(SOURCE);
  },
  network_outage: async () => {
    await proxy.down();
    await sleep(2000 + rand() * 5000);
    await proxy.up();
  },
  redis_restart: async () => {
    await redis.stop();
    await sleep(1000 + rand() * 2000);
    redis = await ensureRedis(REDIS);
  },
} as const;

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters"));
  source = await startEmbeddedPostgres(SOURCE);
  await src("SELECT 1").catch(() => {});
  const admin = new pg.Client({ connectionString: source.url() });
  await admin.connect();
  await admin.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = 'soak'");
  await admin.query("DROP DATABASE IF EXISTS soak WITH (FORCE)");
  await admin.query("CREATE DATABASE soak");
  await admin.end();
  await src(
    Object.entries(TABLES)
      .map(([t, cols]) => `CREATE TABLE ${t} (${cols});`)
      .join("\n") +
      `INSERT INTO accounts SELECT g, 'owner ' || g, g * 10 FROM generate_series(1, 2000) g;
       INSERT INTO orders SELECT g, g % 2000, g % 97, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 5000) g;
       INSERT INTO events SELECT g, 'seed', jsonb_build_object('g', g) FROM generate_series(1, 3000) g;`,
  );
  // This file's Redis (restarted by the soak); the in-process API queues through it too.
  redis = await ensureRedis(REDIS);
  process.env.REDIS_URL = redis.url;
  reloadEnv();
  proxy = tcpProxy({ host: "127.0.0.1", port: SOURCE.port });
  await proxy.listen();
  editor = await createEditorToken();
  // Reached through the proxy (the network the soak cuts).
  const config = serverSourceConfig({ ...SOURCE, port: proxy.port, database: "soak", secretEnv: "ECM_SOURCE_SOAK_PW", options: { retry: { initial_ms: 200, factor: 2, max_ms: 3000 } } });
  const created = await api("POST", "/sources", { token: adminToken(), body: { name: "soak", config } });
  expect(created.status).toBe(201);
  sourceId = created.body.id;
  const mappings = (Object.keys(TABLES) as Table[]).map((t) => ({
    source: { table: t },
    target: { context_type: t },
    fields: [{ source: "id", target: "context_id" }, ...COLUMNS[t].map((c) => ({ source: c, target: `data.${c}` }))],
  }));
  expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: { mappings } })).status).toBe(200);
  for (let i = 0; i < 3; i++) startWorker();
  const run = (await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id as string;
  await waitFor("the first snapshot", async () => (await api("GET", `/runs/${run}`, { token: editor })).body.status === "succeeded", 120_000, 200);
  expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } })).status).toBe(202);
  await waitFor("streaming", async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body.state === "streaming", 60_000, 200);
}, 300_000);

afterAll(async () => {
  killWorkers();
  await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }).catch(() => {});
  await proxy?.down().catch(() => {});
  await source?.stop();
  await redis?.stop();
});

describe(`chaos soak (${MINUTES} min, seed ${SEED})`, () => {
  it("ends with the store equal to the source after random worker kills, source crashes, network outages and Redis restarts", async () => {
    const load = workload();
    const acks = sampleAcknowledgements();
    const injected: { at_s: number; fault: string }[] = [];
    const started = Date.now();
    while (Date.now() - started < MINUTES * 60_000) {
      await sleep(6000 + rand() * 6000);
      const fault = pick(Object.keys(FAULTS) as (keyof typeof FAULTS)[]);
      injected.push({ at_s: Math.round((Date.now() - started) / 1000), fault });
      await FAULTS[fault]();
    }
    await load.stop();
    await acks.stop();
    const quiet = Date.now();
    let diff: string[] = [];
    await waitFor(
      "the store to equal the source",
      async () => {
        diff = await differences();
        return diff.length === 0;
      },
      240_000,
      1000,
    ).catch(() => {});
    const report = {
      seed: SEED,
      minutes: MINUTES,
      writes: { ...load.counts, failed: load.failed },
      injected: Object.fromEntries(Object.keys(FAULTS).map((f) => [f, injected.filter((i) => i.fault === f).length])),
      sequence: injected,
      converged_after_s: diff.length ? null : Math.round((Date.now() - quiet) / 1000),
      differences: diff,
      acknowledgement_samples: acks.samples,
      acknowledged_ahead_of_store: acks.violations.slice(0, 5),
    };
    console.log(`chaos soak report ${JSON.stringify(report, null, 1)}`);
    expect(diff).toEqual([]);
    expect(acks.violations).toEqual([]);
    expect(acks.samples).toBeGreaterThan(100);
    expect(injected.length).toBeGreaterThan(0);
    // The last fault may still be backing off (the store already holds everything): healthy again soon.
    await waitFor("the stream to be healthy", async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body.state === "streaming", 60_000, 500);
    expect((await withDb((c) => c.query("SELECT count(*)::int AS n FROM dead_letters WHERE source_id = $1", [sourceId]))).rows[0].n).toBe(0);
  }, (MINUTES * 60 + 420) * 1000);
});
