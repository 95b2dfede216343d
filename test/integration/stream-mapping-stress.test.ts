// Issue #13's scenario, repeated: a source streams; then, in one go, its mapping gains three
// tables, a snapshot of them starts, a TPC-B-like workload (hot branches and tellers updated in
// every transaction) runs on them, and a worker process is killed with SIGKILL at a random moment.
// Every round must end with the run succeeded and the store equal to the source.
// ECM_STRESS_ROUNDS sets the rounds (2 in `npm test`; `ECM_STRESS_ROUNDS=20 npx vitest run
// --project integration test/integration/stream-mapping-stress.test.ts` for the full form).
import { spawn, type ChildProcess } from "node:child_process";
import { workerNodeArgs } from "../../worker/build.ts";
import { isDeepStrictEqual } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { api, adminToken } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";

const ROUNDS = Number(process.env.ECM_STRESS_ROUNDS ?? 2);
const ACCOUNTS = 20_000;
let src: Awaited<ReturnType<typeof createSourceDatabase>>;
let sourceId: string;
let editor: string;
const workers = new Set<ChildProcess>();

function spawnWorker(): ChildProcess {
  const child = spawn(process.execPath, workerNodeArgs(), {
    env: { ...process.env, ECM_STREAM_LEASE_SECONDS: "4", ECM_SUPERVISOR_MS: "500", ECM_LOG_LEVEL: "warn", ECM_RETRY_INITIAL_MS: "200", ECM_RETRY_MAX_MS: "2000" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  workers.add(child);
  child.on("exit", () => workers.delete(child));
  return child;
}

const field = (source: string, target: string) => ({ source, target });
const tableMapping = (t: string, value: string) => ({ source: { table: t }, target: { context_type: t }, fields: [field("id", "context_id"), field(value, `data.${value}`)] });
const mapped: ReturnType<typeof tableMapping>[] = [];

async function diff(table: string, value: string): Promise<string | null> {
  const source = Object.fromEntries((await src.query(`SELECT id, ${value} AS v FROM ${table}`)).rows.map((r) => [String(r.id), { [value]: r.v }]));
  const stored = Object.fromEntries((await withDb((c) => c.query("SELECT context_id, data FROM contexts WHERE context_type = $1 AND NOT deleted", [table]))).rows.map((r) => [r.context_id, r.data]));
  if (isDeepStrictEqual(source, stored)) return null;
  const wrong = Object.keys(source).filter((k) => !isDeepStrictEqual(source[k], stored[k]));
  return `${table}: ${wrong.length} wrong or missing (e.g. ${wrong.slice(0, 5).map((k) => `${k}: source ${JSON.stringify(source[k])}, store ${JSON.stringify(stored[k] ?? null)}`).join("; ")})`;
}

/** pgbench's TPC-B-like transaction on the round's tables, from `clients` connections, until stopped. */
function workload(round: number, clients: number) {
  let running = true;
  let transactions = 0;
  const pool = new pg.Pool({ connectionString: src.url, max: clients });
  pool.on("error", () => {});
  pool.on("connect", (c) => c.on("error", () => {})); // reported by the failing statement
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const aid = 1 + Math.floor(Math.random() ** 3 * ACCOUNTS); // skewed: low ids are hot
      const tid = 1 + Math.floor(Math.random() * 20);
      const bid = 1 + Math.floor(Math.random() * 2);
      const delta = Math.floor(Math.random() * 10_000) - 5000;
      const c = await pool.connect();
      try {
        await c.query("BEGIN");
        await c.query(`UPDATE accounts_${round} SET balance = balance + $1 WHERE id = $2`, [delta, aid]);
        await c.query(`UPDATE tellers_${round} SET balance = balance + $1 WHERE id = $2`, [delta, tid]);
        await c.query(`UPDATE branches_${round} SET balance = balance + $1 WHERE id = $2`, [delta, bid]);
        await c.query("COMMIT");
        transactions++;
      } catch (e) {
        await c.query("ROLLBACK").catch(() => {});
        if (!/deadlock|could not serialize/.test(String(e))) throw e; // the source's own contention is fine
      } finally {
        c.release();
      }
    }
  });
  // A loop that fails does so while the test awaits other steps: held here, reported by stop().
  const all = Promise.all(loops);
  all.catch(() => {});
  return {
    stop: async () => {
      running = false;
      await all;
      await pool.end();
      return transactions;
    },
  };
}

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters, streams"));
  editor = (await createToken({ name: "e", role: "editor" }, { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" })).token;
  src = await createSourceDatabase("ecm_mapping_stress", "CREATE TABLE history (id bigserial PRIMARY KEY, note text); INSERT INTO history (note) SELECT 'seed' FROM generate_series(1, 100);");
  sourceId = (await api("POST", "/sources", { token: adminToken(), body: { name: "stress", config: src.config } })).body.id;
  mapped.push(tableMapping("history", "note"));
  expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: { mappings: mapped } })).status).toBe(200);
  spawnWorker();
  spawnWorker();
  const snap = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} });
  await waitFor("the first snapshot", async () => (await api("GET", `/runs/${snap.body.run_id}`, { token: editor })).body.status === "succeeded", 60_000);
  expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } })).status).toBe(202);
  await waitFor("streaming", async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body.state === "streaming", 60_000);
}, 180_000);

afterAll(async () => {
  await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }).catch(() => {});
  for (const w of workers) w.kill("SIGKILL");
});

describe(`tables added to a streaming source's mapping under a hot-key workload, a worker killed (${ROUNDS} rounds)`, () => {
  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: the snapshot run succeeds and the store equals the source`, async () => {
      await src.query(`
        CREATE TABLE branches_${round} (id int PRIMARY KEY, balance int NOT NULL);
        CREATE TABLE tellers_${round} (id int PRIMARY KEY, balance int NOT NULL);
        CREATE TABLE accounts_${round} (id int PRIMARY KEY, balance int NOT NULL, filler text);
        INSERT INTO branches_${round} SELECT g, 0 FROM generate_series(1, 2) g;
        INSERT INTO tellers_${round} SELECT g, 0 FROM generate_series(1, 20) g;
        INSERT INTO accounts_${round} SELECT g, 0, repeat('x', 80) FROM generate_series(1, ${ACCOUNTS}) g;`);
      const load = workload(round, 4);
      // The running stream carries the base table's changes meanwhile.
      await src.query("INSERT INTO history (note) SELECT 'round ' || $1 FROM generate_series(1, 50)", [round]);

      // In one go: the mapping gains the three tables and their snapshot starts.
      for (const t of ["branches", "tellers", "accounts"]) mapped.push(tableMapping(`${t}_${round}`, "balance"));
      expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: { mappings: mapped } })).status).toBe(200);
      const entities = ["branches", "tellers", "accounts"].map((t) => `${t}_${round}`);
      const snap = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: { entities } });
      expect(snap.status).toBe(202);

      // A worker dies at a random moment of the snapshot (the stream's owner or a snapshot part's).
      await new Promise((r) => setTimeout(r, Math.random() * 2500));
      const victim = [...workers][Math.floor(Math.random() * workers.size)]!;
      victim.kill("SIGKILL");
      spawnWorker();
      await new Promise((r) => setTimeout(r, 3000));
      const transactions = await load.stop();
      expect(transactions).toBeGreaterThan(100);

      const run = await waitFor("the snapshot run", async () => {
        const r = (await api("GET", `/runs/${snap.body.run_id}`, { token: editor })).body;
        return ["succeeded", "failed"].includes(r.status) ? r : undefined;
      }, 150_000, 500);
      expect(run.error).toBeNull();
      expect(run.status).toBe("succeeded");

      // Quiet source: the store must come to equal it, and stay equal.
      const tables: [string, string][] = [["history", "note"], ...entities.map((e) => [e, "balance"] as [string, string])];
      await waitFor("store equal to the source", async () => (await Promise.all(tables.map(([t, v]) => diff(t, v)))).every((d) => d === null), 60_000, 500).catch(() => {});
      expect((await Promise.all(tables.map(([t, v]) => diff(t, v)))).filter(Boolean)).toEqual([]);
    }, 300_000);
  }
});
