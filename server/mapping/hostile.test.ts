// A mapping is user input evaluated in the web process (preview) and in every worker: no target
// path, column name or transform argument may reach an object's prototype, and error texts quote
// no value of a secret-looking column.
import { afterEach, describe, expect, it } from "vitest";
import type { EntitySchema, SourceRecord } from "../connectors/types.ts";
import { compileMapping, MappingDataError } from "./compile.ts";
import { ZMappingDocument, type TEntityMapping } from "./spec.ts";
import { validateMapping } from "./validate.ts";

const protoNames = () => Object.getOwnPropertyNames(Object.prototype).sort();
const before = protoNames();
afterEach(() => {
  expect(protoNames()).toEqual(before);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

const entry = (fields: TEntityMapping["fields"]): TEntityMapping => ({ source: { table: "t" }, target: { context_type: "t" }, fields: [{ source: "id", target: "context_id" }, ...fields] });
const row = (values: Record<string, unknown>): SourceRecord => Object.assign(Object.create(null), values);

describe("prototype keys", () => {
  it.each(["data.__proto__.polluted", "data.a.constructor.prototype.polluted", "data.prototype"])("the path grammar refuses %s", (target) => {
    const parsed = ZMappingDocument.safeParse({ mappings: [entry([{ target, transform: { name: "constant", value: 1 } }])] });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.path).toEqual(["mappings", 0, "fields", 1, "target"]);
  });

  it("a compiled mapping given such a path anyway (no grammar) defines own properties only, in map and in preview", () => {
    const m = compileMapping(entry([{ target: "data.__proto__.polluted", transform: { name: "constant", value: "yes" } }]));
    const mapped = m.map(row({ id: 1 }));
    expect(Object.getPrototypeOf(mapped.data)).toBe(Object.prototype);
    expect(JSON.stringify(mapped.data)).toBe('{"__proto__":{"polluted":"yes"}}');
    const previewed = m.preview(row({ id: 1 })).context!;
    expect(JSON.stringify(previewed.data)).toBe('{"__proto__":{"polluted":"yes"}}');
  });

  it("a column named like an Object.prototype member is read as the row's own value, or as missing", () => {
    const m = compileMapping(entry([{ source: "constructor", target: "data.c" }, { source: "toString", target: "data.s" }, { target: "data.t", transform: { name: "template", template: "{constructor}/{valueOf}" } }]));
    expect(m.map(row({ id: 1, constructor: "own" })).data).toEqual({ c: "own", s: undefined, t: "own/" });
    expect(m.map({ id: 1 } as SourceRecord).data).toEqual({ c: undefined, s: undefined, t: "/" }); // a plain-object row too
  });

  it("json_path never walks into a prototype", () => {
    const m = compileMapping(entry([{ source: "doc", target: "data.x", transform: { name: "json_path", path: "$.constructor.name" } }]));
    expect(m.map(row({ id: 1, doc: { a: 1 } })).data.x).toBeNull();
  });
});

describe("prefix conflicts, found by index (validation stays linear in the number of fields)", () => {
  const schema: EntitySchema = {
    name: "t", schema: "public", table: "t", kind: "table", primary_key: ["id"], replica_identity: "default", old_row: "key", old_row_fix: "ALTER TABLE t REPLICA IDENTITY FULL", row_estimate: 0, cdc: true,
    columns: [{ name: "id", type: "integer", base_type: "integer", kind: "number", nullable: false, is_array: false, is_enum: false, primary_key_position: 1 }],
  };
  it("still finds a prefix conflict in either order among 500 fields", () => {
    const many = Array.from({ length: 496 }, (_, i) => ({ source: "id", target: `data.g${i}.v` }));
    const doc = ZMappingDocument.parse({ mappings: [entry([...many, { source: "id", target: "data.a.b" }, { source: "id", target: "data.a" }, { source: "id", target: "data.g7.v.w" }])] });
    const issues = validateMapping(doc, () => schema);
    expect(issues.map((i) => i.path)).toEqual(["mappings[0].fields[498].target", "mappings[0].fields[499].target"]);
    expect(issues[0]!.message).toContain("data.a conflicts with data.a.b");
    expect(issues[1]!.message).toContain("data.g7.v.w conflicts with data.g7.v");
  });
  it("refuses more than 500 fields per mapping at the fields path", () => {
    const parsed = ZMappingDocument.safeParse({ mappings: [entry(Array.from({ length: 500 }, (_, i) => ({ source: "id", target: `data.f${i}` })))] });
    expect(parsed.error!.issues).toEqual([expect.objectContaining({ path: ["mappings", 0, "fields"], message: "at most 500 fields per mapping" })]);
  });
});

describe("error texts of secret-looking columns (finding 9)", () => {
  const fail = (fields: TEntityMapping["fields"], values: Record<string, unknown>) => {
    try {
      compileMapping(entry(fields)).map(row(values));
    } catch (e) {
      return e as MappingDataError;
    }
    throw new Error("expected a DATA error");
  };
  it("say what failed without quoting the value", () => {
    const e = fail([{ source: "password", target: "data.pin", transform: "integer" }], { id: 1, password: "hunter2-very-secret" });
    expect(e.message).toBe("data.pin: integer failed: not an integer (value redacted)");
    const j = fail([{ source: "api_token", target: "data.t", transform: "json_parse" }], { id: 1, api_token: '{"hunter2' });
    expect(j.message).not.toContain("hunter2");
  });
  it("keep quoting values of other columns (they help fix the row)", () => {
    expect(fail([{ source: "age", target: "data.age", transform: "integer" }], { id: 1, age: "forty" }).message).toBe("data.age: integer failed: not an integer: forty");
  });
});
