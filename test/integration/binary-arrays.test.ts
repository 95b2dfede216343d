// Array parameters in PostgreSQL's binary format (server/db/binary-arrays.ts) read back by the
// real server exactly as written: every plane of Unicode, empty strings, NULLs, a value long
// enough to be measured rather than bounded, jsonb parsed by the server, and empty arrays.
import { describe, expect, it } from "vitest";
import { boolArray, jsonbArray, textArray } from "../../server/db/binary-arrays.ts";
import { withDb } from "../support/db.ts";

const TEXTS = ["", "plain", "tab\tnew\nline\\back", "é ü ß", "中文", "😀 𝄞 astral", "x".repeat(70_000) + "é".repeat(30_000), null, "after null"];

describe("binary array parameters", () => {
  it("text[]: every value back as written, NULLs included", async () => {
    const { rows } = await withDb((c) => c.query<{ v: string | null; n: string }>("SELECT v, n FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n", [textArray(TEXTS)]));
    expect(rows.map((r) => r.v)).toEqual(TEXTS);
  });

  it("text[] large enough to be measured exactly rather than bounded: the same values back", async () => {
    const large = ["é".repeat(1_000_000), "😀".repeat(300_000), "", null, "x"];
    const { rows } = await withDb((c) => c.query<{ v: string | null }>("SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n", [textArray(large)]));
    expect(rows.map((r) => r.v)).toEqual(large);
  });

  it("jsonb[]: each text parsed by the server as jsonb input", async () => {
    const docs = ['{"a": 1, "b": [true, null, "😀"]}', '"just a string"', "12.50", null, '{"nested": {"deep": {"x": "tab\\there"}}}'];
    const { rows } = await withDb((c) => c.query<{ v: unknown; t: string | null }>("SELECT v, jsonb_typeof(v) AS t FROM unnest($1::jsonb[]) WITH ORDINALITY AS u(v, n) ORDER BY n", [jsonbArray(docs)]));
    expect(rows.map((r) => r.v)).toEqual(docs.map((d) => (d === null ? null : JSON.parse(d))));
    expect(rows.map((r) => r.t)).toEqual(["object", "string", "number", null, "object"]);
  });

  it("jsonb[]: text that is not JSON is refused by the server, not stored", async () => {
    await expect(withDb((c) => c.query("SELECT unnest($1::jsonb[])", [jsonbArray(["{not json"])]))).rejects.toThrow(/invalid input syntax for type json/);
  });

  it("boolean[] and empty arrays", async () => {
    const { rows } = await withDb((c) =>
      c.query<{ b: boolean[]; t: string[]; j: unknown[] }>("SELECT $1::boolean[] AS b, $2::text[] AS t, $3::jsonb[] AS j", [boolArray([true, false, true]), textArray([]), jsonbArray([])]),
    );
    expect(rows[0]).toEqual({ b: [true, false, true], t: [], j: [] });
  });

  it("arrays of one length line up row by row in a multi-argument unnest", async () => {
    const { rows } = await withDb((c) =>
      c.query<{ t: string; x: boolean }>("SELECT t, x FROM unnest($1::text[], $2::boolean[]) AS u(t, x)", [textArray(["a", "b", "c"]), boolArray([false, true, false])]),
    );
    expect(rows).toEqual([{ t: "a", x: false }, { t: "b", x: true }, { t: "c", x: false }]);
  });
});
