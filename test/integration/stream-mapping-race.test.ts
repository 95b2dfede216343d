// The two races of a snapshot of tables that a running stream is already writing (issue #13):
// 1. lost updates: the stream, still on its old mapping, received changes of a newly mapped table
//    (its snapshot had put it in the publication) and confirmed past them unapplied;
// 2. deadlocks: a snapshot chunk and a stream batch upserting the same hot keys in different
//    orders; and a deadlock that happens anyway fails the run instead of being retried.
// Deterministic: the stream is held on its old mapping by a control tick that never comes, and the
// updates are committed right after the first chunk was read.
process.env.ECM_RETRY_INITIAL_MS = "100";
process.env.ECM_SUPERVISOR_MS = "300";

import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgPool } from "../../server/db.ts";
import { saveMappings } from "../../server/mapping/service.ts";
import { runSnapshot } from "../../server/pipeline/snapshot.ts";
import { runStream, type StreamCounters, type StreamEnd } from "../../server/pipeline/stream.ts";
import { withConnector } from "../../server/sources/connectivity.ts";
import { createSource } from "../../server/sources/service.ts";
import { writeContexts, type ContextWrite } from "../../server/store/contexts.ts";
import { acquireLease, ensureStream, releaseLease, updateStream } from "../../server/store/streams.ts";
import { startWorker } from "../../worker/runtime.ts";
import { createToken } from "../../server/auth/tokens.ts";
import { api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";

const by = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
const mappingOf = (tables: string[]) => ({
  mappings: tables.map((t) => ({
    source: { table: t },
    target: { context_type: t },
    fields: [
      { source: "id", target: "context_id" },
      { source: "balance", target: "data.balance" },
    ],
  })),
});

let src: Awaited<ReturnType<typeof createSourceDatabase>>;
let sourceId: string;

async function diff(table: string) {
  const source = Object.fromEntries((await src.query(`SELECT id, balance FROM ${table}`)).rows.map((r) => [String(r.id), { balance: r.balance }]));
  const stored = Object.fromEntries(
    (await withDb((c) => c.query("SELECT context_id, data FROM contexts WHERE context_type = $1 AND NOT deleted", [table]))).rows.map((r) => [r.context_id, r.data]),
  );
  const wrong = Object.keys(source).filter((k) => !isDeepStrictEqual(source[k], stored[k]));
  return { equal: isDeepStrictEqual(source, stored), wrong };
}

/** runStream as the worker runs it, directly, with a chosen control tick. */
async function startStream(controlMs: number) {
  const token = (await acquireLease(sourceId, "race-test", 60))!;
  const counters: StreamCounters = { read: 0, written: 0, dead_lettered: 0, skipped: 0, transactions: 0, collisions: 0 };
  let ready!: () => void;
  const streaming = new Promise<void>((r) => (ready = r));
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const done: Promise<StreamEnd> = withConnector(sourceId, (connector) => {
    void stopped.then(() => connector.shutdown()); // the test's way out when the stream would never end
    return runStream({ sourceId, connector, token, leaseSeconds: 60, runId: null, counters, timing: { controlMs, heartbeatMs: 100 }, onStreaming: () => ready() });
  });
  done.catch(() => {});
  await Promise.race([streaming, done]);
  return { done, token, counters, kill: stop };
}

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters, streams"));
  src = await createSourceDatabase(
    "ecm_mapping_race",
    `CREATE TABLE branches (id int PRIMARY KEY, balance int NOT NULL);
     CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
     INSERT INTO branches SELECT g, 0 FROM generate_series(1, 10) g;
     INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 5000) g;`,
  );
  sourceId = (await createSource({ name: "race", config: src.config })).id;
  await saveMappings(sourceId, mappingOf(["branches"]), by);
  await ensureStream(sourceId);
  await updateStream(sourceId, { enabled: true });
});

afterAll(async () => {
  await updateStream(sourceId, { enabled: false }).catch(() => {});
});

describe("a table added to a running stream's mapping and snapshotted", () => {
  it("ends equal to the source: the stream never confirms past changes it decoded under the old mapping", async () => {
    // The running stream on mapping version 1 (branches only), its control tick held off: it
    // will not reload the mapping by itself.
    const first = await startStream(3_600_000);
    await saveMappings(sourceId, mappingOf(["branches", "accounts"]), by);

    // The snapshot of accounts puts it in the publication, reads its first chunk (ids 1-1000,
    // balance 0), and right then the source updates those rows, many times each.
    let updated = false;
    await runSnapshot(sourceId, {
      entities: ["accounts"],
      batchSize: 1000,
      onChunk: async ({ total_read }) => {
        if (updated || total_read < 1000) return;
        updated = true;
        for (let i = 0; i < 5; i++) await src.query("UPDATE accounts SET balance = balance + 1 WHERE id <= 1000");
        await src.query("UPDATE branches SET balance = balance + 1");
      },
    });
    expect(updated).toBe(true);

    // The old stream must not commit the batches holding those changes: it hands over to a restart.
    const outcome = await Promise.race([first.done, new Promise<string>((r) => setTimeout(() => r("still running on the old mapping"), 15_000))]);
    if (outcome === "still running on the old mapping") first.kill(); // as its control tick would, at last
    await first.done.catch(() => {});
    await releaseLease(sourceId, first.token);

    // The restarted stream (the worker's loop does this) reads them again under version 2.
    const second = await startStream(100);
    await waitFor("accounts equal to the source", async () => (await diff("accounts")).equal, 20_000, 200).catch(() => {});
    expect((await diff("accounts")).wrong).toEqual([]);
    expect((await diff("branches")).equal).toBe(true);
    expect(outcome).toBe("restart");
    await updateStream(sourceId, { enabled: false });
    await expect(second.done).resolves.toBe("stopped");
    await releaseLease(sourceId, second.token);
  }, 90_000);
});

describe("concurrent writers of the same hot keys", () => {
  const keys = Array.from({ length: 200 }, (_, i) => String(i + 1));
  const write = (id: string, position: bigint, balance: number): ContextWrite => ({ context_type: "hot", context_id: id, data: { balance }, entity: "hot", position, cursor: null, deleted: false });

  it("take their row locks in one order: a snapshot chunk (key order) and a stream batch (reverse change order) never deadlock", async () => {
    await withDb((c) => c.query("DELETE FROM contexts WHERE context_type = 'hot'"));
    const client = await pgPool().connect();
    try {
      await writeContexts(client, sourceId, 1, keys.map((k) => write(k, 1n, 0)), { generation: 0, snapshot: false });
    } finally {
      client.release();
    }
    // Each row update takes 5 ms, so the two statements overlap for their whole length.
    await withDb((c) =>
      c.query(`CREATE OR REPLACE FUNCTION ecm_test_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.context_type = 'hot' THEN PERFORM pg_sleep(0.005); END IF; RETURN NEW; END $$;
               CREATE TRIGGER ecm_test_slow BEFORE UPDATE ON contexts FOR EACH ROW EXECUTE FUNCTION ecm_test_slow();`),
    );
    try {
      const inTransaction = async (rows: ContextWrite[]) => {
        const c = await pgPool().connect();
        try {
          await c.query("BEGIN");
          await writeContexts(c, sourceId, 1, rows, { generation: 0, snapshot: false });
          await c.query("COMMIT");
        } catch (e) {
          await c.query("ROLLBACK").catch(() => {});
          throw e;
        } finally {
          c.release();
        }
      };
      const snapshotChunk = inTransaction(keys.map((k) => write(k, 100n << 32n, 1)));
      const streamBatch = inTransaction([...keys].reverse().map((k, i) => write(k, (200n << 32n) | BigInt(i + 1), 2)));
      const outcomes = await Promise.allSettled([snapshotChunk, streamBatch]);
      expect(outcomes.map((o) => (o.status === "rejected" ? String(o.reason) : "ok"))).toEqual(["ok", "ok"]);
      const rows = await withDb(async (c) => (await c.query("SELECT DISTINCT data->>'balance' AS b FROM contexts WHERE context_type = 'hot'")).rows);
      expect(rows).toEqual([{ b: "2" }]); // the stream's later positions win wherever they went first
    } finally {
      await withDb((c) => c.query("DROP TRIGGER IF EXISTS ecm_test_slow ON contexts; DROP FUNCTION IF EXISTS ecm_test_slow()"));
    }
  }, 60_000);

  it("retry a snapshot part that still meets a deadlock from its last checkpoint: the run succeeds", async () => {
    const worker = await startWorker();
    const editor = (await createToken({ name: "e", role: "editor" }, by)).token;
    // The store aborts the second chunk's transaction twice with 40P01, as a deadlock would
    // (counted in a sequence: it is not rolled back with the failed transaction).
    await withDb((c) =>
      c.query(`CREATE SEQUENCE IF NOT EXISTS ecm_test_deadlock_seq; SELECT setval('ecm_test_deadlock_seq', 1, false);
               CREATE OR REPLACE FUNCTION ecm_test_deadlock() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                 IF NEW.context_type = 'accounts' AND NEW.context_id = '1500' AND nextval('ecm_test_deadlock_seq') <= 2 THEN
                   RAISE EXCEPTION 'deadlock detected (test)' USING ERRCODE = '40P01';
                 END IF;
                 RETURN NEW;
               END $$;
               CREATE TRIGGER ecm_test_deadlock BEFORE INSERT OR UPDATE ON contexts FOR EACH ROW EXECUTE FUNCTION ecm_test_deadlock();`),
    );
    try {
      await src.query("UPDATE accounts SET balance = balance + 7 WHERE id > 4000");
      const queued = await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: { entities: ["accounts"] } });
      expect(queued.status).toBe(202);
      const run = await waitFor("the snapshot run to end", async () => {
        const r = (await api("GET", `/runs/${queued.body.run_id}`, { token: editor })).body;
        return ["succeeded", "failed"].includes(r.status) ? r : undefined;
      }, 60_000, 200);
      expect(run).toMatchObject({ status: "succeeded", error: null });
      expect(run.counters.retried).toBe(2);
      expect(run.counters.read).toBe(5000);
      expect((await diff("accounts")).wrong).toEqual([]);
    } finally {
      await withDb((c) => c.query("DROP TRIGGER IF EXISTS ecm_test_deadlock ON contexts; DROP FUNCTION IF EXISTS ecm_test_deadlock(); DROP SEQUENCE IF EXISTS ecm_test_deadlock_seq"));
      await worker.close();
    }
  }, 90_000);
});
