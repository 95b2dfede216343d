// Type fidelity, value by value: each PostgreSQL value reaches the connector's output exactly.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresConnector } from "../../server/connectors/postgresql/connector.ts";
import type { SourceRecord } from "../../server/connectors/types.ts";
import { addLogSink } from "../../server/logger.ts";
import { createSourceDatabase } from "../support/source-db.ts";

const SETUP = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
CREATE DOMAIN email AS text;
CREATE TYPE pair AS (a int, b text);
CREATE TABLE t (
  id int PRIMARY KEY,
  i2 int2, i4 int4, i8 int8, num numeric, num_scaled numeric(12,2), f4 float4, f8 float8, b bool,
  txt text, vc varchar(10), ch char(5), u uuid, j json, jb jsonb,
  d date, tm time, ttz timetz, ts timestamp, tstz timestamptz, iv interval, by bytea,
  ai int[], at text[], a2 int[][], ae mood[], e mood, dom positive_int, dome email, ip inet, net cidr, m money, comp pair
);`;

let source: Awaited<ReturnType<typeof createSourceDatabase>>;
let rows: Map<number, SourceRecord>;
const warnings: string[] = [];
let removeSink: () => void;

beforeAll(async () => {
  source = await createSourceDatabase("ecm_src_types", SETUP);
  await source.query(`INSERT INTO t (id) VALUES (0)`); // all NULL
  await source.query(`INSERT INTO t VALUES (1,
    -32768, 2147483647, 9223372036854775807, 123456789012345678901234567890.123456789, 1234.50, 1.5, 0.1, true,
    'plain', 'varchar', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, 2.50, "x"], "u": "\\u0000"}', '{"b": 1, "a": {"n": null}}',
    '2024-02-29', '13:45:30.123456', '13:45:30+05:30', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456+02', '1 year 2 mons 3 days 04:05:06.5', '\\x00ff10',
    '{1,NULL,3}', '{"a,b","c\\"d",NULL,"NULL"}', '{{1,2},{3,NULL}}', '{sad,happy}', 'ok', 42, 'a@b.c', '192.168.0.1/24', '10.0.0.0/8', 12.34, ROW(1, 'x'))`);
  await source.query(`INSERT INTO t (id, i8, f4, f8, d, ts, tstz, txt) VALUES (2, -9223372036854775808, 'NaN', 'Infinity', 'infinity', '-infinity', 'infinity', '')`);
  await source.query(`INSERT INTO t (id, i8, f8, d, ts, tstz) VALUES (3, 9007199254740993, '-Infinity', '0044-03-15 BC', '0044-03-15 12:00:00 BC', '1999-12-31 23:59:59.999999-08')`);
  await source.query(`INSERT INTO t (id, i8, txt, jb) VALUES (4, 9007199254740991, $1, $2)`, ["𐍈 𝄞 😀 中文 Ω é \u{10FFFF} tab\there\nnewline back\\slash", { emoji: "😀", astral: "𝄞" }]);

  removeSink = addLogSink((l) => warnings.push(l));
  const connector = new PostgresConnector({ sourceId: "00000000-0000-0000-0000-000000000001" });
  await connector.initialize(source.config);
  rows = new Map();
  for await (const chunk of connector.readSnapshotChunks!("t", { batch_size: 2 })) for (const r of chunk.records) rows.set(r.id as number, r);
  await connector.shutdown();
});
afterAll(() => removeSink());

describe("PostgreSQL values → JSON", () => {
  it("reads every row (in chunks of 2)", () => {
    expect([...rows.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it("keeps NULL as null for every type", () => {
    const r = rows.get(0)!;
    for (const [k, v] of Object.entries(r)) if (k !== "id") expect(v, k).toBeNull();
  });

  it("integers: int2/int4 as numbers, int8 exact (number when safe, string beyond 2^53)", () => {
    const r = rows.get(1)!;
    expect(r.i2).toBe(-32768);
    expect(r.i4).toBe(2147483647);
    expect(r.i8).toBe("9223372036854775807");
    expect(rows.get(2)!.i8).toBe("-9223372036854775808");
    expect(rows.get(3)!.i8).toBe("9007199254740993");
    expect(rows.get(4)!.i8).toBe(9007199254740991);
  });

  it("numeric and money exact, as strings; floats as numbers with NaN and ±Infinity as strings", () => {
    const r = rows.get(1)!;
    expect(r.num).toBe("123456789012345678901234567890.123456789");
    expect(r.num_scaled).toBe("1234.50");
    expect(r.m).toBe("$12.34");
    expect(r.f4).toBe(1.5);
    expect(r.f8).toBe(0.1);
    expect(rows.get(2)!.f4).toBe("NaN");
    expect(rows.get(2)!.f8).toBe("Infinity");
    expect(rows.get(3)!.f8).toBe("-Infinity");
  });

  it("bool, text, varchar, char (padded), uuid", () => {
    const r = rows.get(1)!;
    expect(r.b).toBe(true);
    expect(r.txt).toBe("plain");
    expect(r.vc).toBe("varchar");
    expect(r.ch).toBe("ab   ");
    expect(r.u).toBe("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    expect(rows.get(2)!.txt).toBe("");
  });

  it("json and jsonb as parsed JSON; \\u0000 inside json survives", () => {
    const r = rows.get(1)!;
    expect(r.j).toEqual({ k: [1, 2.5, "x"], u: "\u0000" });
    expect(r.jb).toEqual({ a: { n: null }, b: 1 });
  });

  it("dates and times in ISO 8601 without any timezone shift; ±infinity and BC kept", () => {
    const r = rows.get(1)!;
    expect(r.d).toBe("2024-02-29");
    expect(r.tm).toBe("13:45:30.123456");
    expect(r.ttz).toBe("13:45:30+05:30");
    expect(r.ts).toBe("2024-01-02T03:04:05.123456");
    expect(r.tstz).toBe("2024-01-02T01:04:05.123456Z"); // the same instant, microseconds kept
    expect(rows.get(2)!.d).toBe("infinity");
    expect(rows.get(2)!.ts).toBe("-infinity");
    expect(rows.get(2)!.tstz).toBe("infinity");
    expect(rows.get(3)!.d).toBe("-0043-03-15");
    expect(rows.get(3)!.ts).toBe("-0043-03-15T12:00:00");
    expect(rows.get(3)!.tstz).toBe("2000-01-01T07:59:59.999999Z");
  });

  it("interval in ISO 8601, bytea as base64", () => {
    const r = rows.get(1)!;
    expect(r.iv).toBe("P1Y2M3DT4H5M6.5S");
    expect(r.by).toBe(Buffer.from([0x00, 0xff, 0x10]).toString("base64"));
  });

  it("arrays, multi-dimensional, with NULL elements, quoted text and enums", () => {
    const r = rows.get(1)!;
    expect(r.ai).toEqual([1, null, 3]);
    expect(r.at).toEqual(["a,b", 'c"d', null, "NULL"]);
    expect(r.a2).toEqual([
      [1, 2],
      [3, null],
    ]);
    expect(r.ae).toEqual(["sad", "happy"]);
  });

  it("enums and domains by their values, inet/cidr as text", () => {
    const r = rows.get(1)!;
    expect(r.e).toBe("ok");
    expect(r.dom).toBe(42); // domain over integer parses as integer
    expect(r.dome).toBe("a@b.c");
    expect(r.ip).toBe("192.168.0.1/24");
    expect(r.net).toBe("10.0.0.0/8");
  });

  it("an unknown type (a composite) becomes its text form with one warning, never a crash", () => {
    expect(rows.get(1)!.comp).toBe("(1,x)");
    expect(warnings.filter((w) => w.includes("pair") && w.includes("text")).length).toBe(1);
  });

  it("text in every Unicode plane, tabs, newlines and backslashes survive", () => {
    expect(rows.get(4)!.txt).toBe("𐍈 𝄞 😀 中文 Ω é \u{10FFFF} tab\there\nnewline back\\slash");
    expect(rows.get(4)!.jb).toEqual({ emoji: "😀", astral: "𝄞" });
  });
});
