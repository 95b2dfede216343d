import { describe, expect, it } from "vitest";
import { cloneData, JsonText, materialize, serializeKeepingText } from "./json-text.ts";

const BIG_TEXT = '{"items":[{"n":1,"text":"é \\" \\\\ 😀"}],"z":null}';
const big = new JsonText(BIG_TEXT);

describe("JsonText", () => {
  it("is its document to JSON.stringify and to transforms, and its text to the store's writer", () => {
    const data = { a: 1, body: big, list: [big, "x"] };
    const expected = JSON.stringify({ a: 1, body: JSON.parse(BIG_TEXT), list: [JSON.parse(BIG_TEXT), "x"] });
    expect(JSON.stringify(data)).toBe(expected);
    expect(materialize(big)).toEqual(JSON.parse(BIG_TEXT));
    expect(materialize(5)).toBe(5);
    const pieces = serializeKeepingText(data) as string[];
    expect(pieces).toEqual(['{"a":1,"body":', big.source, ',"list":[', big.source, ',"x"]}']);
    expect(JSON.parse(pieces.join(""))).toEqual(JSON.parse(expected));
  });

  it("carries UTF-8 bytes as they came: the same document, pieces that are the bytes themselves", () => {
    const bytes = Buffer.from(BIG_TEXT);
    const fromBytes = new JsonText(bytes);
    expect(materialize(fromBytes)).toEqual(JSON.parse(BIG_TEXT));
    expect(JSON.stringify({ body: fromBytes })).toBe(JSON.stringify({ body: JSON.parse(BIG_TEXT) }));
    const pieces = serializeKeepingText({ a: 1, body: fromBytes }) as (string | Buffer)[];
    expect(pieces[1]).toBe(bytes);
    expect(pieces.map(String).join("")).toBe(`{"a":1,"body":${BIG_TEXT}}`);
    expect(serializeKeepingText({ a: new JsonText(Buffer.from('"x\\u0000y"')) })).toBeNull();
    expect(serializeKeepingText({ a: new JsonText(Buffer.from('"x\\\\u0000y"')) })).not.toBeNull(); // the text \u0000, not U+0000
  });

  it("gives the JSON itself when nothing is carried as text", () => {
    expect(serializeKeepingText({ a: [1, "b"] })).toBe('{"a":[1,"b"]}');
  });

  it("refuses a lone surrogate in the serialisation's own text (jsonb refuses its escape), not a pair nor the text of an escape", () => {
    expect(serializeKeepingText({ a: "x\ud800y" })).toBeNull();
    expect(serializeKeepingText({ a: ["ok", { b: "\udc00" }] })).toBeNull();
    expect(serializeKeepingText({ a: "\\\ud800" })).toBeNull(); // a backslash, then the lone surrogate
    expect(serializeKeepingText({ a: "😀 𝄞" })).toBe('{"a":"😀 𝄞"}');
    expect(serializeKeepingText({ a: "\\ud800" })).toBe('{"a":"\\\\ud800"}'); // the six characters \ud800
    expect(serializeKeepingText({ a: big, b: "\ud800" })).toBeNull();
    // A carried text's own escapes are the source's JSON (a pair escaped as two halves is valid).
    expect(serializeKeepingText({ a: new JsonText('"\\ud83d\\ude00"') })).not.toBeNull();
  });

  it("refuses U+0000 anywhere (jsonb cannot hold it), a value that imitates a placeholder included", () => {
    expect(serializeKeepingText({ a: "x\u0000y" })).toBeNull();
    expect(serializeKeepingText({ a: new JsonText('"x\\u0000y"') })).toBeNull();
    // A string shaped like the placeholder of the next text, before or after a real one.
    expect(serializeKeepingText({ a: "\u0000ecm-json-text:0\u0000", b: big })).toBeNull();
    expect(serializeKeepingText({ a: big, b: "\u0000ecm-json-text:1\u0000" })).toBeNull();
  });

  it("leaves JSON.stringify as it was after a serialisation that threw", () => {
    expect(() => serializeKeepingText({ a: big, b: 1n })).toThrow();
    expect(JSON.stringify({ body: big })).toBe(JSON.stringify({ body: JSON.parse(BIG_TEXT) }));
  });

  it("is shared, not turned into a plain object, by a copy of the data", () => {
    const data = { a: { b: big, c: [1] } };
    const copy = cloneData(data);
    expect(copy.a.b).toBe(big);
    expect(copy.a).not.toBe(data.a);
    expect(copy.a.c).not.toBe(data.a.c);
    expect(copy).toEqual(data);
  });
});
