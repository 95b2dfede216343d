import { describe, expect, it } from "vitest";
import { parseArray, parseBytea, parseDate, parseFloat, parseInt8, parseTimestamp, parseTimestamptz, ValueParsers } from "./values.ts";

describe("PostgreSQL text → JSON parsers", () => {
  it("int8: numbers while exact, strings beyond 2^53", () => {
    expect(parseInt8("42")).toBe(42);
    expect(parseInt8("-9007199254740991")).toBe(-9007199254740991);
    expect(parseInt8("9007199254740992")).toBe("9007199254740992");
    expect(parseInt8("-9223372036854775808")).toBe("-9223372036854775808");
  });

  it("floats: special values as strings", () => {
    expect(parseFloat("1.5e-7")).toBe(1.5e-7);
    expect(parseFloat("NaN")).toBe("NaN");
    expect(parseFloat("-Infinity")).toBe("-Infinity");
  });

  it("timestamps: ISO 8601, UTC marked Z, microseconds and BC kept", () => {
    expect(parseTimestamp("2024-01-02 03:04:05")).toBe("2024-01-02T03:04:05");
    expect(parseTimestamptz("2024-01-02 03:04:05.000001+00")).toBe("2024-01-02T03:04:05.000001Z");
    expect(parseTimestamptz("0001-01-01 00:00:00+00 BC")).toBe("0000-01-01T00:00:00Z");
    expect(parseDate("0001-01-01 BC")).toBe("0000-01-01");
    expect(parseDate("2024-02-29")).toBe("2024-02-29");
    expect(parseTimestamptz("-infinity")).toBe("-infinity");
  });

  it("bytea hex → base64", () => {
    expect(parseBytea("\\x")).toBe("");
    expect(parseBytea("\\xdeadbeef")).toBe(Buffer.from("deadbeef", "hex").toString("base64"));
  });

  it("array literals: nesting, quoting, NULL, explicit bounds, other delimiters", () => {
    const int = (t: string) => Number(t);
    expect(parseArray("{}", int)).toEqual([]);
    expect(parseArray("{{1,2},{NULL,4}}", int)).toEqual([
      [1, 2],
      [null, 4],
    ]);
    expect(parseArray('{"a\\\\b","q\\"x","NULL",NULL,"",plain}', (t) => t)).toEqual(["a\\b", 'q"x', "NULL", null, "", "plain"]);
    expect(parseArray("[0:1]={7,8}", int)).toEqual([7, 8]);
    expect(parseArray("{(0,0),(1,1);(2,2),(3,3)}", (t) => t, ";")).toEqual(["(0,0),(1,1)", "(2,2),(3,3)"]);
  });

  it("resolves domains to their base type and arrays of enums through the catalog", () => {
    const types = new Map([
      [900, { oid: 900, name: "positive_int", kind: "d", category: "N", elem: 0, base: 23, delim: "," }],
      [901, { oid: 901, name: "mood", kind: "e", category: "E", elem: 0, base: 0, delim: "," }],
      [902, { oid: 902, name: "mood[]", kind: "b", category: "A", elem: 901, base: 0, delim: "," }],
      [903, { oid: 903, name: "pair", kind: "c", category: "C", elem: 0, base: 0, delim: "," }],
    ]);
    const warnings: string[] = [];
    const p = new ValueParsers(types, (w) => warnings.push(w));
    expect(p.parser(900)("42")).toBe(42);
    expect(p.parser(902)("{sad,happy}")).toEqual(["sad", "happy"]);
    expect(p.parser(903)("(1,x)")).toBe("(1,x)");
    expect(p.parser(903)("(2,y)")).toBe("(2,y)");
    expect(warnings).toHaveLength(1);
    expect(p.parser(424242)("raw")).toBe("raw"); // not even in the catalog
  });
});
