import { describe, expect, it } from "vitest";
import type { RowChange } from "../../connectors/types.ts";
import { compileMapping } from "../../mapping/compile.ts";
import type { Mapped } from "../records.ts";
import { keptPaths, mapChange } from "./map-change.ts";

const mapper = compileMapping({
  source: { table: "docs" },
  target: { context_type: "doc" },
  fields: [
    { source: "id", target: "context_id" },
    { source: "title", target: "data.title" },
    { source: "body", target: "data.content.body" },
  ],
});
const change = (over: Partial<RowChange>): RowChange => ({ kind: "update", entity: "docs", key: ["1"], key_columns: ["id"], row: { id: 1, title: "t", body: "b" }, before: null, unchanged: null, order: 7n, cursor: "pg_lsn:0/1", ...over });
const run = (c: RowChange) => {
  const out: Mapped = { writes: [], deadLetters: [] };
  mapChange([mapper], c, out);
  return out;
};

describe("a row change through the mapping", () => {
  it("keeps the stored value of fields built from columns the change did not carry (unchanged TOAST)", () => {
    expect(keptPaths(mapper, new Set(["body"]))).toEqual([["content", "body"]]); // paths inside data
    const { writes } = run(change({ row: { id: 1, title: "new" }, unchanged: new Set(["body"]) }));
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({ context_id: "1", deleted: false, keep: [["content", "body"]], position: 7n, cursor: "pg_lsn:0/1", key: ["1"] });
  });

  it("dead-letters a change whose context_id comes from a column it did not carry", () => {
    const { writes, deadLetters } = run(change({ unchanged: new Set(["id"]) }));
    expect(writes).toEqual([]);
    expect(deadLetters[0]).toMatchObject({ entity: "docs", context_type: "doc", key: ["1"], category: "DATA", error: { field: "context_id", message: expect.stringMatching(/REPLICA IDENTITY FULL/) } });
  });

  it("tombstones the old context when an update moved the key", () => {
    const { writes } = run(change({ key: ["2"], row: { id: 2, title: "t", body: "b" }, before: { id: 1 } }));
    expect(writes.map((w) => [w.context_id, w.deleted])).toEqual([
      ["1", true],
      ["2", false],
    ]);
  });

  it("writes nothing extra for an update that kept its key", () => {
    expect(run(change({ before: { id: 1 } })).writes.map((w) => w.context_id)).toEqual(["1"]);
  });

  it("maps a delete to a tombstone under the id its key maps to", () => {
    expect(run(change({ kind: "delete", row: { id: 1 } })).writes).toEqual([expect.objectContaining({ context_type: "doc", context_id: "1", data: null, deleted: true })]);
  });
});
