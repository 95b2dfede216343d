// Crash safety of change streams with real worker processes: two workers on one stream, the
// owner killed with SIGKILL in the middle of 100k changes in multi-row transactions across
// several tables; the other takes over from the checkpoint, and the store ends equal to the
// source row by row. A sampler checks throughout that the slot's confirmed_flush_lsn is never
// ahead of the stored cursor. Fencing: a stale owner's batch is refused and rolled back.
import { spawn, type ChildProcess } from "node:child_process";
import { workerNodeArgs } from "../../worker/build.ts";
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { pgPool } from "../../server/db.ts";
import { parseLsn, parseLsnCursor } from "../../server/connectors/postgresql/lsn.ts";
import { writeContexts } from "../../server/store/contexts.ts";
import { acquireLease, commitCursor, ensureStream, LeaseLostError, releaseLease, updateStream } from "../../server/store/streams.ts";
import { runStream, type StreamCounters } from "../../server/pipeline/stream.ts";
import { withConnector } from "../../server/sources/connectivity.ts";
import { adminToken, api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";

const TABLES = ["accounts", "orders", "events"] as const;
let src: Awaited<ReturnType<typeof createSourceDatabase>>;
let sourceId: string;
let editor: string;
const children = new Set<ChildProcess>();

function spawnWorker(): ChildProcess {
  const child = spawn(process.execPath, workerNodeArgs(), {
    env: { ...process.env, ECM_STREAM_LEASE_SECONDS: "4", ECM_SUPERVISOR_MS: "500", ECM_LOG_LEVEL: "warn" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

async function storeEqualsSource(): Promise<{ equal: boolean; diff: string }> {
  for (const t of TABLES) {
    const source = (await src.query(`SELECT id, v, note FROM ${t}`)).rows.map((r) => [String(r.id), { v: r.v, note: r.note }]);
    const stored = await withDb(async (c) => (await c.query("SELECT context_id, data FROM contexts WHERE context_type = $1 AND NOT deleted", [t])).rows.map((r) => [r.context_id, r.data]));
    const a = Object.fromEntries(source);
    const b = Object.fromEntries(stored);
    if (!isDeepStrictEqual(a, b)) {
      const missing = Object.keys(a).filter((k) => !isDeepStrictEqual(a[k], b[k]));
      const extra = Object.keys(b).filter((k) => !(k in a));
      return { equal: false, diff: `${t}: ${missing.length} missing or different (e.g. ${missing.slice(0, 3).join(", ")}), ${extra.length} extra` };
    }
  }
  return { equal: true, diff: "" };
}

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters"));
  const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
  editor = (await createToken({ name: "e", role: "editor" }, system)).token;
  src = await createSourceDatabase("ecm_stream_kill", TABLES.map((t) => `CREATE TABLE ${t} (id bigint PRIMARY KEY, v int NOT NULL, note text);`).join("\n"));
  sourceId = (await api("POST", "/sources", { token: adminToken() /* an env:// secret is pointed at a host by an admin */, body: { name: "kill-src", config: src.config } })).body.id;
  const mapping = {
    mappings: TABLES.map((t) => ({
      source: { table: t },
      target: { context_type: t },
      fields: [
        { source: "id", target: "context_id" },
        { source: "v", target: "data.v" },
        { source: "note", target: "data.note" },
      ],
    })),
  };
  expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping })).status).toBe(200);
});
afterAll(async () => {
  await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }).catch(() => {});
  for (const c of children) c.kill("SIGKILL");
});

describe("stream ownership and crash safety", () => {
  it("refuses a stale owner's batch (fencing token): its contexts roll back with it", async () => {
    await ensureStream(sourceId);
    const stale = (await acquireLease(sourceId, "worker-a", 1))!;
    await new Promise((r) => setTimeout(r, 1100));
    const fresh = (await acquireLease(sourceId, "worker-b", 30))!;
    expect(fresh).toBeGreaterThan(stale);
    const client = await pgPool().connect();
    try {
      await client.query("BEGIN");
      await writeContexts(client, sourceId, 1, [{ context_type: "accounts", context_id: "fenced", data: { v: 1 }, entity: "accounts", position: 1n << 40n, cursor: null, deleted: false }], { generation: 0, snapshot: false });
      await expect(commitCursor(client, sourceId, stale, "0/10", null, [])).rejects.toBeInstanceOf(LeaseLostError);
      await client.query("ROLLBACK");
    } finally {
      client.release();
    }
    expect(await withDb(async (c) => (await c.query("SELECT 1 FROM contexts WHERE context_id = 'fenced'")).rowCount)).toBe(0);
    // The live owner's writes go through; a stale one cannot even take the lease back.
    expect(await acquireLease(sourceId, "worker-a", 30)).toBeNull();
    await withDb((c) => c.query("UPDATE streams SET lease_owner = NULL, lease_expires_at = NULL WHERE source_id = $1", [sourceId]));
  });

  it("never skips a batch whose write failed: keepalives during it and later batches leave the cursor before it, a restart delivers it", async () => {
    await ensureStream(sourceId);
    await updateStream(sourceId, { enabled: true });
    await src.query("CREATE TABLE IF NOT EXISTS noise (id serial PRIMARY KEY, at timestamptz DEFAULT now())"); // unmapped: moves the WAL only
    // The store fails slowly on one context: the batch holding it is in flight for a second, long
    // enough for keepalives (pinged every 100 ms) to report a WAL end past it, then fails.
    await withDb((c) =>
      c.query(`CREATE OR REPLACE FUNCTION ecm_test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.context_type = 'accounts' AND NEW.context_id = '9666' THEN PERFORM pg_sleep(1); RAISE EXCEPTION 'store unavailable (test)'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER ecm_test_poison BEFORE INSERT OR UPDATE ON contexts FOR EACH ROW EXECUTE FUNCTION ecm_test_poison();`),
    );
    const run = async () => {
      const token = (await acquireLease(sourceId, "direct-test", 30))!;
      const counters: StreamCounters = { read: 0, written: 0, dead_lettered: 0, skipped: 0, transactions: 0, collisions: 0 };
      let ready!: () => void;
      const streaming = new Promise<void>((r) => (ready = r));
      const done = withConnector(sourceId, (connector) =>
        runStream({ sourceId, connector, token, leaseSeconds: 30, runId: null, counters, timing: { controlMs: 100, heartbeatMs: 100 }, onStreaming: () => ready() }),
      );
      done.catch(() => {});
      await Promise.race([streaming, done]);
      return { done, token };
    };
    try {
      const first = await run();
      let noise = true;
      const noiseLoop = (async () => {
        while (noise) await src.query("INSERT INTO noise DEFAULT VALUES");
      })();
      await src.query("INSERT INTO accounts (id, v, note) VALUES (9665, 1, 'a'), (9666, 2, 'poison'), (9667, 3, 'c')");
      await expect(first.done).rejects.toThrow(/store unavailable/);
      noise = false;
      await noiseLoop;
      await releaseLease(sourceId, first.token);
      const stored = await withDb(async (c) => (await c.query("SELECT count(*)::int AS n FROM contexts WHERE context_type = 'accounts' AND context_id IN ('9665', '9667')")).rows[0].n);
      expect(stored).toBe(0); // the failed batch wrote nothing...
    } finally {
      await withDb((c) => c.query("DROP TRIGGER IF EXISTS ecm_test_poison ON contexts; DROP FUNCTION IF EXISTS ecm_test_poison()"));
    }
    // ...and its changes are still ahead of the cursor: a restart delivers them.
    const second = await run();
    await waitFor("the failed batch's changes after a restart", async () =>
      withDb(async (c) => (await c.query("SELECT count(*)::int AS n FROM contexts WHERE context_type = 'accounts' AND context_id IN ('9665', '9666', '9667')")).rows[0].n === 3),
    );
    await updateStream(sourceId, { enabled: false });
    await expect(second.done).resolves.toBe("stopped");
    await releaseLease(sourceId, second.token);
    await src.query("DELETE FROM accounts WHERE id IN (9665, 9666, 9667)");
  }, 60_000);

  it("survives SIGKILL of the owner in the middle of 100k changes: the other worker takes over and the store equals the source", async () => {
    const snap = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} });
    spawnWorker();
    spawnWorker();
    await waitFor("snapshot", async () => (await api("GET", `/runs/${snap.body.run_id}`, { token: editor })).body.status === "succeeded", 60_000);
    expect((await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start", batch_size: 2000 } })).status).toBe(202);
    await waitFor("streaming", async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body.state === "streaming", 60_000);

    // The sampler: confirmed_flush_lsn never ahead of the durable cursor.
    let sampling = true;
    let samples = 0;
    const violations: string[] = [];
    const sampler = (async () => {
      while (sampling) {
        const slot = (await src.query("SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = $1", [`ecm_slot_${sourceId.replaceAll("-", "")}`])).rows[0]?.l;
        const cursor = await withDb(async (c) => (await c.query("SELECT cursor FROM streams WHERE source_id = $1", [sourceId])).rows[0]?.cursor);
        if (slot && cursor) {
          samples++;
          if (parseLsn(slot) > parseLsnCursor(cursor)) violations.push(`${slot} > ${cursor}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    // 100k changes: 50 transactions of 1,000 inserts across three tables, then 50 of 1,000 updates.
    const load = (async () => {
      for (let i = 0; i < 50; i++) {
        const base = i * 1000;
        await src.query(
          `BEGIN;
           INSERT INTO accounts SELECT g, g % 97, 'a' || g FROM generate_series(${base}, ${base + 399}) g;
           INSERT INTO orders SELECT g, g % 89, NULL FROM generate_series(${base + 400}, ${base + 699}) g;
           INSERT INTO events SELECT g, g % 83, repeat('e', g % 50) FROM generate_series(${base + 700}, ${base + 999}) g;
           COMMIT;`,
        );
      }
      for (let i = 0; i < 50; i++) {
        await src.query(
          `BEGIN;
           UPDATE accounts SET v = v + 1, note = 'u${i}' WHERE id % 50 = ${i};
           UPDATE orders SET v = v - 1 WHERE id % 50 = ${i};
           UPDATE events SET note = NULL WHERE id % 50 = ${i};
           COMMIT;`,
        );
      }
    })();

    // Kill the owner once a good part has been applied.
    await waitFor("a third of the changes in the store", async () => (await withDb((c) => c.query("SELECT count(*)::int AS n FROM contexts WHERE source_id = $1", [sourceId]))).rows[0].n > 15_000, 120_000, 50);
    const owner = await withDb(async (c) => (await c.query("SELECT lease_owner FROM streams WHERE source_id = $1", [sourceId])).rows[0].lease_owner as string);
    const pid = Number(owner.split(":").pop());
    const victim = [...children].find((c) => c.pid === pid);
    expect(victim, `owner ${owner} is one of the two workers`).toBeDefined();
    victim!.kill("SIGKILL");
    await load;

    const result = await waitFor("the store to equal the source after takeover", async () => {
      const r = await storeEqualsSource();
      return r.equal ? r : undefined;
    }, 180_000, 1000).catch(async () => storeEqualsSource());
    sampling = false;
    await sampler;
    expect(result.diff).toBe("");
    expect(violations).toEqual([]);
    expect(samples).toBeGreaterThan(50);
    const newOwner = await withDb(async (c) => (await c.query("SELECT lease_owner FROM streams WHERE source_id = $1", [sourceId])).rows[0].lease_owner as string);
    expect(newOwner).not.toBe(owner);
  }, 300_000);
});
