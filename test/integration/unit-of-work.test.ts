// The one unit of work (server/store/unit-of-work.ts) on the real store: a record that failed twice
// in one batch is one dead letter with its last failure (one statement cannot touch a row twice,
// and a stream batch holds every change of a hot row), and a refused record becomes a dead letter
// in the same transaction while the rest of the batch commits.
import { beforeAll, describe, expect, it } from "vitest";
import { createSource } from "../../server/sources/service.ts";
import { commitBatch } from "../../server/store/unit-of-work.ts";
import { withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { markTruncated, restartFromCheckpoint, SupersededError, takeOverCheckpoint, TruncatedDuringSnapshotError } from "../../server/store/checkpoints.ts";
import { pgPool } from "../../server/db.ts";
import { createRun } from "../../server/store/runs.ts";

let sourceId: string;

beforeAll(async () => {
  const src = await createSourceDatabase("ecm_uow_src");
  sourceId = (await createSource({ name: `uow-${Date.now()}`, config: src.config })).id;
});

const letter = (message: string, position: bigint) => ({
  entity: "customers",
  context_type: "customer",
  key: ["97"],
  key_columns: ["customer_id"],
  cursor: "pg_lsn:0/10",
  position,
  category: "DATA" as const,
  error: { message, field: "data.preferences", transform: "json_parse" },
  payload: { customer_id: 97, preferences: "{" },
});

describe("commitBatch", () => {
  it("keeps one dead letter, the last failure, when a record fails twice in one batch", async () => {
    await takeOverCheckpoint(sourceId, "customers", null, { pass: 1n, generation: 0, cursor: null, position: 0n });
    const result = await commitBatch({
      sourceId,
      mappingVersion: 0, // no mapping saved: version 0 is the latest
      order: { generation: 0, snapshot: true },
      runId: null,
      writes: [],
      deadLetters: [letter("first failure", 1n), letter("second failure", 2n)],
      completion: { kind: "checkpoint", entity: "customers", pass: 1n, chunk: { after: null, last: ["97"], rows: 97 } },
    });
    expect(result.dead_lettered).toHaveLength(2);
    const rows = await withDb(async (c) => (await c.query("SELECT error->>'message' AS message, attempts, position::text FROM dead_letters WHERE source_id = $1", [sourceId])).rows);
    expect(rows).toEqual([{ message: "second failure", attempts: 1, position: "2" }]);
  });

  it("turns a record the store refuses into a dead letter and commits the rest with the checkpoint", async () => {
    const write = (id: string, data: Record<string, string>) => ({ context_type: "uow", context_id: id, data, entity: "t", position: 0n, cursor: null, deleted: false, key: [id], key_columns: ["id"], payload: { id, ...data } });
    await takeOverCheckpoint(sourceId, "t", null, { pass: 1n, generation: 0, cursor: null, position: 0n });
    const result = await commitBatch({
      sourceId,
      mappingVersion: 0, // no mapping saved: version 0 is the latest
      order: { generation: 0, snapshot: true },
      runId: null,
      // U+0000 in data; lone surrogates (which UTF-8 cannot encode) in data and in an id.
      writes: [write("1", { v: "fine" }), write("2", { v: "nul \u0000 inside" }), write("3", { v: "half \ud800 a pair" }), write("4\udc00", { v: "id" })],
      deadLetters: [],
      completion: { kind: "checkpoint", entity: "t", pass: 1n, chunk: { after: null, last: ["4"], rows: 4 } },
    });
    expect(result.written).toBe(1);
    expect(result.refused).toEqual([
      expect.objectContaining({ context_id: "2", key: ["2"], message: expect.stringMatching(/\\u0000/) }),
      expect.objectContaining({ context_id: "3", key: ["3"], message: expect.stringMatching(/lone surrogate/) }),
      expect.objectContaining({ context_id: "4\\udc00", key: ["4\udc00"], message: expect.stringMatching(/lone surrogate/) }),
    ]);
    const stored = await withDb(async (c) => (await c.query("SELECT context_id FROM contexts WHERE source_id = $1 AND context_type = 'uow'", [sourceId])).rows);
    expect(stored).toEqual([{ context_id: "1" }]);
    const letters = await withDb(async (c) => (await c.query("SELECT key, error->>'code' AS code FROM dead_letters WHERE source_id = $1 AND entity = 't'", [sourceId])).rows);
    expect(letters.sort((a, b) => (a.key[0] < b.key[0] ? -1 : 1))).toEqual([
      { key: ["2"], code: "STORE_REJECTED" },
      { key: ["3"], code: "STORE_REJECTED" },
      { key: ["4\\udc00"], code: "STORE_REJECTED" }, // the key as the store can hold it: the text of the escape
    ]);
    const checkpoint = await withDb(async (c) => (await c.query("SELECT last_key FROM snapshot_checkpoints WHERE source_id = $1 AND entity = 't'", [sourceId])).rows);
    expect(checkpoint).toEqual([{ last_key: ["4"] }]);
  });

  const chunk = (entity: string, runId: string | null, ids: string[], pass: bigint) =>
    commitBatch({
      sourceId,
      mappingVersion: 0,
      order: { generation: 0, snapshot: true },
      runId,
      writes: ids.map((id) => ({ context_type: "uow-pass", context_id: id, data: { id }, entity, position: 10n, cursor: null, deleted: false, key: [id], key_columns: ["id"], payload: { id } })),
      deadLetters: [],
      completion: { kind: "checkpoint", entity, pass, chunk: { after: null, last: [ids[ids.length - 1]!], rows: ids.length } },
    });

  it("refuses a chunk of a pass another run took over, and one read before a TRUNCATE landed above its floor", async () => {
    const older = (await createRun({ sourceId, kind: "snapshot", request: {}, createdBy: "test" })).id;
    const newer = (await createRun({ sourceId, kind: "snapshot", request: {}, createdBy: "test" })).id;
    await withDb((c) => c.query("UPDATE runs SET status = 'running' WHERE id = ANY($1::uuid[])", [[older, newer]]));
    expect(await takeOverCheckpoint(sourceId, "p", older, { pass: 1n, generation: 0, cursor: null, position: 10n })).toBe(true);
    await chunk("p", older, ["a"], 1n);
    expect(await takeOverCheckpoint(sourceId, "p", newer, { pass: 2n, generation: 0, cursor: null, position: 10n })).toBe(true);
    // The older run cannot take it back while the newer one runs, and its commits are refused whole.
    expect(await takeOverCheckpoint(sourceId, "p", older, { pass: 3n, generation: 0, cursor: null, position: 10n })).toBe(false);
    await expect(chunk("p", older, ["b"], 1n)).rejects.toBeInstanceOf(SupersededError);
    const b = await withDb(async (c) => (await c.query("SELECT 1 FROM contexts WHERE context_type = 'uow-pass' AND context_id = 'b'")).rowCount);
    expect(b).toBe(0);
    // A TRUNCATE the stream applied above the pass's floor: the pass's next chunk is refused.
    const client = await pgPool().connect();
    try {
      await markTruncated(client, sourceId, "p", 0, 11n);
    } finally {
      client.release();
    }
    await expect(chunk("p", newer, ["c"], 2n)).rejects.toBeInstanceOf(TruncatedDuringSnapshotError);
    // One below the floor (applied before the pass read anything) changes nothing.
    expect(await takeOverCheckpoint(sourceId, "q", newer, { pass: 4n, generation: 0, cursor: null, position: 10n })).toBe(true);
    const c2 = await pgPool().connect();
    try {
      await markTruncated(c2, sourceId, "q", 0, 9n);
    } finally {
      c2.release();
    }
    await expect(chunk("q", newer, ["d"], 4n)).resolves.toMatchObject({ written: 1 });
  });

  it("moves a pass's checkpoint only over chunks that all committed, whatever order they commit in", async () => {
    expect(await takeOverCheckpoint(sourceId, "ooo", null, { pass: 7n, generation: 0, cursor: null, position: 10n })).toBe(true);
    const span = (after: string | null, last: string, ids: string[]) =>
      commitBatch({
        sourceId,
        mappingVersion: 0,
        order: { generation: 0, snapshot: true },
        runId: null,
        writes: ids.map((id) => ({ context_type: "uow-ooo", context_id: id, data: { id }, entity: "ooo", position: 10n, cursor: null, deleted: false, key: [id], key_columns: ["id"], payload: { id } })),
        deadLetters: [],
        completion: { kind: "checkpoint", entity: "ooo", pass: 7n, chunk: { after: after === null ? null : [after], last: [last], rows: ids.length } },
      });
    const checkpoint = async () =>
      withDb(async (c) => (await c.query("SELECT last_key, rows_done::int, jsonb_array_length(ahead) AS ahead FROM snapshot_checkpoints WHERE source_id = $1 AND entity = 'ooo'", [sourceId])).rows[0]);
    // The second chunk commits first: its rows are durable, but a crash now must resume before the first.
    await span("b", "d", ["c", "d"]);
    expect(await checkpoint()).toEqual({ last_key: null, rows_done: 0, ahead: 1 });
    await span(null, "b", ["a", "b"]);
    expect(await checkpoint()).toEqual({ last_key: ["d"], rows_done: 4, ahead: 0 });
    // Two at once, on two store sessions: both commit, and the checkpoint covers both.
    await Promise.all([span("f", "h", ["g", "h"]), span("d", "f", ["e", "f"])]);
    expect(await checkpoint()).toEqual({ last_key: ["h"], rows_done: 8, ahead: 0 });
    // A chunk committed past a gap, then the attempt fails: the next attempt reads it again and
    // forgets the span (its chunks may end elsewhere; a leftover span would let the checkpoint jump).
    await span("i", "k", ["j", "k"]);
    expect(await checkpoint()).toMatchObject({ last_key: ["h"], ahead: 1 });
    await restartFromCheckpoint(sourceId, "ooo", null, 7n);
    expect(await checkpoint()).toEqual({ last_key: ["h"], rows_done: 8, ahead: 0 });
    await span("h", "j", ["i", "j"]);
    expect(await checkpoint()).toEqual({ last_key: ["j"], rows_done: 10, ahead: 0 });
  });
});

describe("the store's errors carry their origin wherever they are raised", () => {
  it("marks an error from the store's pool and from a client taken from it as the store's (a store constraint is FATAL, never a record's DATA)", async () => {
    const { classify } = await import("../../server/errors/classify.ts");
    const viaPool = await pgPool().query("SELECT 1/0").catch((e: unknown) => e);
    expect(classify(viaPool)).toMatchObject({ origin: "store", category: "FATAL", code: "22012" });
    const client = await pgPool().connect();
    try {
      const viaClient = await client.query("INSERT INTO sources (id) VALUES (NULL)").catch((e: unknown) => e);
      expect(classify(viaClient)).toMatchObject({ origin: "store", category: "FATAL", code: "23502" });
    } finally {
      client.release();
    }
  });

  it("reads Prisma's errors as the store's", async () => {
    const { classify } = await import("../../server/errors/classify.ts");
    const { prisma } = await import("../../server/db.ts");
    const missing = await prisma().$queryRawUnsafe("SELECT * FROM no_such_table_here").catch((e: unknown) => e);
    expect(classify(missing)).toMatchObject({ origin: "store", category: "CONFIGURATION", code: "42P01" });
  });
});
