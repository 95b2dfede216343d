import { describe, expect, it } from "vitest";
import { jsonDiff } from "./diff.ts";

describe("jsonDiff", () => {
  it("names each changed leaf by its path, with both values", () => {
    expect(jsonDiff({ a: 1, b: { c: "x", d: [1, 2] } }, { a: 1, b: { c: "y", d: [1, 2, 3] }, e: true })).toEqual([
      { path: "b.c", before: "x", after: "y" },
      { path: "b.d", before: [1, 2], after: [1, 2, 3] },
      { path: "e", before: null, after: true },
    ]);
  });

  it("walks lists of objects item by item, and finds nothing between equal documents", () => {
    const mappings = (target: string) => ({ mappings: [{ source: { table: "t" }, fields: [{ source: "id", target }] }] });
    expect(jsonDiff(mappings("context_id"), mappings("data.id"))).toEqual([{ path: "mappings[0].fields[0].target", before: "context_id", after: "data.id" }]);
    expect(jsonDiff(mappings("x"), mappings("x"))).toEqual([]);
  });

  it("keeps at most 200 changes", () => {
    const wide = (v: number) => Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, v]));
    expect(jsonDiff(wide(1), wide(2))).toHaveLength(200);
  });
});
