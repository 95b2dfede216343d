// Stream batches in flight together (pipeline/stream/ordered-commits.ts, store/unit-of-work.ts
// CommitSequence) on the real store: a batch written while the one before it is still open
// commits only after it, and not at all when it failed; and the wait for the batch before is one
// the store sees, so a cycle through a third writer (a snapshot chunk holding keys of both) is
// broken by PostgreSQL's deadlock detector instead of hanging the stream.
import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { pgPool } from "../../server/db.ts";
import { createSource } from "../../server/sources/service.ts";
import { acquireLease, ensureStream } from "../../server/store/streams.ts";
import { COMMIT_ORDER_LOCK, commitBatch, type CommitSequence } from "../../server/store/unit-of-work.ts";
import { createSourceDatabase } from "../support/source-db.ts";

let sourceId: string;
let token: bigint;

beforeAll(async () => {
  const src = await createSourceDatabase("ecm_ordered_src");
  sourceId = (await createSource({ name: `ordered-${Date.now()}`, config: src.config })).id;
  await ensureStream(sourceId);
  token = (await acquireLease(sourceId, "test", 300))!;
});

const write = (id: string, position: bigint) => ({ context_type: "ordered", context_id: id, data: { id }, entity: "t", position, cursor: `pg_lsn:0/${position.toString(16)}`, deleted: false, key: [id], key_columns: ["id"], payload: { id } });

/** A stream batch writing `ids`, committing `cursor`, after the batch holding order lock `previous`. */
const streamBatch = (ids: string[], cursor: string, sequence: CommitSequence) =>
  commitBatch({
    sourceId,
    mappingVersion: 0,
    order: { generation: 0, snapshot: false },
    runId: null,
    writes: ids.map((id) => write(id, 100n)),
    deadLetters: [],
    completion: { kind: "cursor", token, cursor, committed_at: null, skipped_entities: [] },
    sequence,
  });

/** A session holding a batch's order lock in an open transaction (the batch before, still committing). */
async function openBatch(lock: number): Promise<pg.PoolClient> {
  const c = await pgPool().connect();
  await c.query("BEGIN");
  await c.query("SELECT pg_advisory_xact_lock($1, $2)", [COMMIT_ORDER_LOCK, lock]);
  return c;
}

/** Resolves once a session waits in the store for order lock `lock`. */
async function waitingFor(lock: number) {
  for (let i = 0; i < 400; i++) {
    const { rowCount } = await pgPool().query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 2 AND NOT granted", [
      COMMIT_ORDER_LOCK,
      lock >>> 0,
    ]);
    if (rowCount) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no session waits for order lock ${lock}`);
}

const stored = async (id: string) => (await pgPool().query("SELECT 1 FROM contexts WHERE context_type = 'ordered' AND context_id = $1", [id])).rowCount;
const cursor = async () => (await pgPool().query<{ cursor: string | null }>("SELECT cursor FROM streams WHERE source_id = $1", [sourceId])).rows[0]!.cursor;

function deferred() {
  let settle!: { ok: () => void; fail: (e: Error) => void };
  const promise = new Promise<void>((ok, fail) => (settle = { ok, fail }));
  promise.catch(() => {});
  return { promise, ...settle };
}

describe("stream batches committing in order", () => {
  it("writes a batch while the one before is open, commits it only after that one, and never when that one failed", async () => {
    const before = await cursor();
    for (const outcome of ["failed", "committed"] as const) {
      const id = `after-${outcome}`;
      const previousLock = outcome === "failed" ? 101 : 102;
      const previous = await openBatch(previousLock);
      const previousDone = deferred();
      const committing = streamBatch([id], `pg_lsn:0/${outcome === "failed" ? "A0" : "B0"}`, { lock: previousLock + 10, onLocked: () => {}, previous: { lock: previousLock, done: previousDone.promise } });
      committing.catch(() => {});
      await waitingFor(previousLock);
      expect(await stored(id)).toBe(0);
      if (outcome === "failed") {
        await previous.query("ROLLBACK");
        previousDone.fail(new Error("the batch before failed"));
        await expect(committing).rejects.toThrow("the batch before failed");
        expect(await stored(id)).toBe(0);
        expect(await cursor()).toBe(before);
      } else {
        await previous.query("COMMIT");
        previousDone.ok();
        await committing;
        expect(await stored(id)).toBe(1);
        expect(await cursor()).toBe("pg_lsn:0/B0");
      }
      previous.release();
    }
  });

  it("breaks a wait cycle through a third writer (deadlock detected by the store) instead of hanging", async () => {
    // Two contexts the third writer (a snapshot chunk, say) locks in key order: a, then b.
    await pgPool().query(
      `INSERT INTO contexts (context_type, context_id, data, source_id, entity, generation, position, mapping_version) VALUES ('ordered', 'a', '{}', $1, 't', 0, 1, 0), ('ordered', 'b', '{}', $1, 't', 0, 1, 0)`,
      [sourceId],
    );
    const first = await openBatch(201); // the batch before: holds its order lock, will want a
    const third = await pgPool().connect();
    await third.query("BEGIN");
    await third.query("SELECT 1 FROM contexts WHERE context_type = 'ordered' AND context_id = 'a' FOR UPDATE");
    const firstDone = deferred();
    // The next batch writes b, then waits for the batch before.
    const second = streamBatch(["b"], "pg_lsn:0/C0", { lock: 202, onLocked: () => {}, previous: { lock: 201, done: firstDone.promise } });
    second.catch(() => {});
    await waitingFor(201);
    // The third writer wants b (held by the second batch); the first batch wants a (held by the third).
    const thirdWaits = third.query("SELECT 1 FROM contexts WHERE context_type = 'ordered' AND context_id = 'b' FOR UPDATE");
    thirdWaits.catch(() => {});
    const firstWaits = first
      .query("SELECT 1 FROM contexts WHERE context_type = 'ordered' AND context_id = 'a' FOR UPDATE")
      .then(async () => {
        await first.query("COMMIT");
        firstDone.ok();
      })
      .catch(async (e: unknown) => {
        await first.query("ROLLBACK");
        firstDone.fail(e as Error);
        throw e;
      });
    firstWaits.catch(() => {});
    const thirdEnds = thirdWaits.then(
      () => third.query("COMMIT"),
      async (e: unknown) => {
        await third.query("ROLLBACK");
        throw e;
      },
    );
    thirdEnds.catch(() => {});
    // Every party ends (one of them chosen as the deadlock's victim), well within a minute.
    const outcomes = await Promise.allSettled([firstWaits, thirdEnds, second]);
    first.release();
    third.release();
    const victims = outcomes.filter((o) => o.status === "rejected").map((o) => (o as PromiseRejectedResult).reason as { code?: string; message: string });
    expect(victims.length).toBeGreaterThan(0);
    expect(victims.some((v) => v.code === "40P01")).toBe(true);
  }, 60_000);
});
