import { describe, expect, it } from "vitest";
import { TRANSFORMS, TransformError } from "./transforms.ts";

const run = (name: string, value: unknown, args: Record<string, unknown> = {}, row: Record<string, unknown> = {}, env = { hashSalt: "pepper" }) => {
  const def = TRANSFORMS.get(name)!;
  return def.compile(def.args.parse(args), env)(value as never, row as never);
};
const fails = (name: string, value: unknown, args: Record<string, unknown> = {}, pattern?: RegExp) =>
  expect(() => run(name, value, args)).toThrow(pattern ?? TransformError);

describe("transforms", () => {
  it("every transform is documented with a summary and an example", () => {
    for (const t of TRANSFORMS.values()) {
      expect(t.summary.length, t.name).toBeGreaterThan(10);
      expect(t.example.length, t.name).toBeGreaterThan(3);
    }
  });

  it("pass NULL through (except default, constant and template)", () => {
    for (const name of ["json_parse", "string", "number", "integer", "boolean", "trim", "lowercase", "uppercase", "iso_timestamp", "epoch_seconds", "epoch_millis", "sha256", "mask"]) {
      expect(run(name, null), name).toBeNull();
    }
    expect(run("json_path", null, { path: "$.a" })).toBeNull();
  });

  it("json_parse parses text, keeps parsed JSON, fails on broken JSON", () => {
    expect(run("json_parse", '{"a": [1, "x"]}')).toEqual({ a: [1, "x"] });
    expect(run("json_parse", { already: true })).toEqual({ already: true });
    fails("json_parse", '{"newsletter": true, "channels": ["email",', {}, /invalid JSON/);
  });

  it("string, number, integer, boolean casts", () => {
    expect(run("string", 42)).toBe("42");
    expect(run("string", { a: 1 })).toBe('{"a":1}');
    expect(run("number", "12.50")).toBe(12.5);
    fails("number", "twelve");
    fails("number", "");
    expect(run("integer", "-42")).toBe(-42);
    fails("integer", "4.2");
    fails("integer", "9007199254740993", {}, /beyond/);
    expect(run("boolean", "Yes")).toBe(true);
    expect(run("boolean", 0)).toBe(false);
    fails("boolean", "maybe");
  });

  it("trim, lowercase, uppercase need text", () => {
    expect(run("trim", "  Ada  ")).toBe("Ada");
    expect(run("lowercase", "Ada@Example.COM")).toBe("ada@example.com");
    expect(run("uppercase", "de")).toBe("DE");
    fails("trim", 5);
  });

  it("timestamps: to ISO, epoch seconds and millis; zone-less stamps are UTC; infinity fails", () => {
    expect(run("iso_timestamp", 1700000000)).toBe("2023-11-14T22:13:20.000Z");
    expect(run("iso_timestamp", "2024-01-02T03:04:05.123456")).toBe("2024-01-02T03:04:05.123Z");
    expect(run("epoch_seconds", "2023-11-14T22:13:20Z")).toBe(1700000000);
    expect(run("epoch_millis", "2024-01-01")).toBe(Date.UTC(2024, 0, 1));
    fails("epoch_seconds", "infinity");
    fails("iso_timestamp", "not a date");
  });

  it("sha256 hashes salt + value and needs the operator's salt", () => {
    const h = run("sha256", "ada@example.com");
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(run("sha256", "ada@example.com", {}, {}, { hashSalt: "other" })).not.toBe(h);
    expect(() => TRANSFORMS.get("sha256")!.compile({}, {})).toThrow(/ECM_HASH_SALT/);
  });

  it("mask keeps the last characters", () => {
    expect(run("mask", "4111111111111111")).toBe("************1111");
    expect(run("mask", "abc", { keep_last: 1, char: "#" })).toBe("##c");
    expect(run("mask", "ab")).toBe("ab");
  });

  it("default, constant, template", () => {
    expect(run("default", null, { value: "unknown" })).toBe("unknown");
    expect(run("default", "x", { value: "unknown" })).toBe("x");
    expect(run("constant", "ignored", { value: { source: "crm" } })).toEqual({ source: "crm" });
    expect(run("template", null, { template: "{first_name} {last_name}!" }, { first_name: "Ada", last_name: null })).toBe("Ada !");
  });

  it("json_path picks nested values, NULL when missing", () => {
    expect(run("json_path", { a: { b: [10, { c: 3 }] } }, { path: "$.a.b[1].c" })).toBe(3);
    expect(run("json_path", '{"a": 1}', { path: "$.x.y" })).toBeNull();
    fails("json_path", "not json", { path: "$.a" });
    expect(() => TRANSFORMS.get("json_path")!.args.parse({ path: "a.b" })).toThrow();
  });
});
