// The one unit of work (server/store/unit-of-work.ts) on the real store: a record that failed twice
// in one batch is one dead letter with its last failure (one statement cannot touch a row twice,
// and a stream batch holds every change of a hot row), and a refused record becomes a dead letter
// in the same transaction while the rest of the batch commits.
import { beforeAll, describe, expect, it } from "vitest";
import { createSource } from "../../server/sources/service.ts";
import { commitBatch } from "../../server/store/unit-of-work.ts";
import { withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { takeOverCheckpoint } from "../../server/store/checkpoints.ts";

let sourceId: string;

beforeAll(async () => {
  const src = await createSourceDatabase("ecm_uow_src");
  sourceId = (await createSource({ name: `uow-${Date.now()}`, config: src.config })).id;
});

const letter = (message: string, position: bigint) => ({
  entity: "customers",
  context_type: "customer",
  key: ["97"],
  cursor: "pg_lsn:0/10",
  position,
  category: "DATA" as const,
  error: { message, field: "data.preferences", transform: "json_parse" },
  payload: { customer_id: 97, preferences: "{" },
});

describe("commitBatch", () => {
  it("keeps one dead letter, the last failure, when a record fails twice in one batch", async () => {
    await takeOverCheckpoint(sourceId, "customers", null, { generation: 0, cursor: null, position: 0n });
    const result = await commitBatch({
      sourceId,
      mappingVersion: 0, // no mapping saved: version 0 is the latest
      order: { generation: 0, snapshot: true },
      runId: null,
      writes: [],
      deadLetters: [letter("first failure", 1n), letter("second failure", 2n)],
      completion: { kind: "checkpoint", entity: "customers", resume_after: ["97"], rows_done: 97 },
    });
    expect(result.dead_lettered).toHaveLength(2);
    const rows = await withDb(async (c) => (await c.query("SELECT error->>'message' AS message, attempts, position::text FROM dead_letters WHERE source_id = $1", [sourceId])).rows);
    expect(rows).toEqual([{ message: "second failure", attempts: 1, position: "2" }]);
  });

  it("turns a record the store refuses into a dead letter and commits the rest with the checkpoint", async () => {
    const write = (id: string, data: Record<string, string>) => ({ context_type: "uow", context_id: id, data, entity: "t", position: 0n, cursor: null, deleted: false, key: [id], payload: { id, ...data } });
    await takeOverCheckpoint(sourceId, "t", null, { generation: 0, cursor: null, position: 0n });
    const result = await commitBatch({
      sourceId,
      mappingVersion: 0, // no mapping saved: version 0 is the latest
      order: { generation: 0, snapshot: true },
      runId: null,
      writes: [write("1", { v: "fine" }), write("2", { v: "nul \u0000 inside" })],
      deadLetters: [],
      completion: { kind: "checkpoint", entity: "t", resume_after: ["2"], rows_done: 2 },
    });
    expect(result.written).toBe(1);
    expect(result.refused).toEqual([expect.objectContaining({ context_id: "2", key: ["2"], message: expect.stringMatching(/\\u0000/) })]);
    const stored = await withDb(async (c) => (await c.query("SELECT context_id FROM contexts WHERE source_id = $1 AND context_type = 'uow'", [sourceId])).rows);
    expect(stored).toEqual([{ context_id: "1" }]);
    const letters = await withDb(async (c) => (await c.query("SELECT key, error->>'code' AS code FROM dead_letters WHERE source_id = $1 AND entity = 't'", [sourceId])).rows);
    expect(letters).toEqual([{ key: ["2"], code: "STORE_REJECTED" }]);
    const checkpoint = await withDb(async (c) => (await c.query("SELECT last_key FROM snapshot_checkpoints WHERE source_id = $1 AND entity = 't'", [sourceId])).rows);
    expect(checkpoint).toEqual([{ last_key: ["2"] }]);
  });
});
