import { describe, expect, it } from "vitest";
import { diffMappings } from "./diff.ts";

const v1 = [{ source: { table: "customers" }, target: { context_type: "c" }, fields: [{ source: "id", target: "context_id" }, { source: "prefs", target: "data.prefs", transform: "json_parse" }] }];

describe("diffMappings", () => {
  it("names added, removed and changed fields and tables", () => {
    const v2 = [
      { source: { table: "customers" }, target: { context_type: "c" }, fields: [{ source: "id", target: "context_id" }, { source: "prefs", target: "data.prefs" }, { source: "email", target: "data.email" }] },
      { source: { table: "orders" }, target: { context_type: "o" }, fields: [{ source: "id", target: "context_id" }] },
    ];
    expect(diffMappings(v1, v2)).toEqual([
      { kind: "added", where: "orders → o", what: "1 fields" },
      { kind: "changed", where: "customers → c: data.prefs", what: 'prefs | "json_parse" ⇒ prefs' },
      { kind: "added", where: "customers → c: data.email", what: "email" },
    ]);
    expect(diffMappings(v2, v1).map((l) => l.kind)).toEqual(["removed", "changed", "removed"]);
    expect(diffMappings(v1, v1)).toEqual([]);
  });
});
