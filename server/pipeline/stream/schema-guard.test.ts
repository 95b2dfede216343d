import { describe, expect, it } from "vitest";
import { SchemaGuard, SchemaPause } from "./schema-guard.ts";

const cols = (...names: string[]) => names.map((n) => ({ name: n, type: "25" }));
const mapped = (entity: string) => new Set(entity === "items" ? ["id", "name"] : []);

describe("the stream's schema guard", () => {
  it("records an entity's columns on first sight, and says nothing while they stay", () => {
    const g = new SchemaGuard({}, "pause", mapped);
    expect(g.check("items", cols("id", "name"))).toEqual({ known: { items: ["id 25", "name 25"] }, change: null });
    expect(g.check("items", cols("id", "name"))).toBeNull();
  });

  it("goes on through an added column under policy continue, recording it", () => {
    const g = new SchemaGuard({ items: ["id 25", "name 25"] }, "continue", mapped);
    expect(g.check("items", cols("id", "name", "note"))).toMatchObject({ change: { entity: "items", added: ["note"], removed: [] }, known: { items: ["id 25", "name 25", "note 25"] } });
  });

  it("pauses on any change under policy pause, before anything is applied", () => {
    const g = new SchemaGuard({ items: ["id 25", "name 25"] }, "pause", mapped);
    expect(() => g.check("items", cols("id", "name", "note"))).toThrow(SchemaPause);
  });

  it("sees a changed type as a change (a column's name is kept whole, spaces included)", () => {
    const g = new SchemaGuard({ items: ["id 25", "full name 25"] }, "continue", () => new Set());
    expect(g.check("items", [{ name: "id", type: "25" }, { name: "full name", type: "1043" }])!.change).toEqual({ entity: "items", added: ["full name"], removed: ["full name"] });
  });

  it("stops with CONFIGURATION when a column the mapping reads was dropped, whatever the policy", () => {
    const g = new SchemaGuard({ items: ["id 25", "name 25"] }, "continue", mapped);
    expect(() => g.check("items", cols("id"))).toThrow(expect.objectContaining({ category: "CONFIGURATION", message: expect.stringMatching(/column name of items was dropped/) }));
  });

  it("takes the catalog's columns at open only for an entity never seen (the log may still hold older ones)", () => {
    const g = new SchemaGuard({ items: ["id 25", "name 25"] }, "pause", mapped);
    expect(g.check("items", cols("id", "name", "note"), true)).toBeNull(); // seed after an ALTER: not judged
    expect(g.check("items", cols("id", "name"))).toBeNull(); // the backlog's changes under the old columns go on
    expect(() => g.check("items", cols("id", "name", "note"))).toThrow(SchemaPause); // then the log's own change pauses
    const fresh = new SchemaGuard({}, "pause", mapped);
    expect(fresh.check("items", cols("id", "name"), true)).toEqual({ known: { items: ["id 25", "name 25"] }, change: null });
  });

  it("keeps entity names off the prototype chain", () => {
    const g = new SchemaGuard({}, "continue", () => new Set());
    g.check("__proto__", cols("id"));
    expect(({} as Record<string, unknown>).id).toBeUndefined();
  });
});
