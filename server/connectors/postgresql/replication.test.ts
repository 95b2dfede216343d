import { describe, expect, it } from "vitest";
import { BinaryReader } from "pg-logical-replication/dist/output-plugins/pgoutput/binary-reader.js";
import { decodeTuple, readTextTuple, type Relation } from "./replication.ts";
import { ValueParsers } from "./values.ts";
import { JsonText, LARGE_VALUE_BYTES } from "../../json/json-text.ts";

/** A pgoutput TupleData: a count, then per column 't' + length + bytes, 'n', or 'u'. */
function tupleData(values: (Buffer | null | "unchanged")[]): Buffer {
  const parts: Buffer[] = [Buffer.from([values.length >> 8, values.length & 0xff])];
  for (const v of values) {
    if (v === null) parts.push(Buffer.from("n"));
    else if (v === "unchanged") parts.push(Buffer.from("u"));
    else {
      const header = Buffer.alloc(5);
      header.write("t", 0);
      header.writeInt32BE(v.length, 1);
      parts.push(header, v);
    }
  }
  return Buffer.concat(parts);
}

const relation = { columns: [{ name: "id", typeOid: 23 }, { name: "doc", typeOid: 3802 }, { name: "note", typeOid: 25 }, { name: "gone", typeOid: 25 }] } as unknown as Relation;

describe("pgoutput tuples", () => {
  it("decodes small values as text (a leading U+FEFF kept) and keeps large ones as bytes: jsonb carried, text decoded", () => {
    const doc = Buffer.from(JSON.stringify({ items: "é".repeat(LARGE_VALUE_BYTES) }));
    const note = Buffer.from("\uFEFF" + "n".repeat(LARGE_VALUE_BYTES));
    const tuple = readTextTuple(new BinaryReader(tupleData([Buffer.from("7"), doc, note, "unchanged"])) as never, relation, null);
    expect(tuple.id).toBe("7");
    expect(Buffer.isBuffer(tuple.doc) && tuple.doc.equals(doc)).toBe(true);
    // Not in a large message's own buffer (built here): a copy, never a view something may reuse.
    expect((tuple.doc as Buffer).buffer).not.toBe(doc.buffer);
    expect(tuple.gone).toBeUndefined();

    const { record, unchanged } = decodeTuple(new ValueParsers(new Map()), relation, tuple);
    expect(record.id).toBe(7);
    expect(record.doc).toBeInstanceOf(JsonText);
    expect((record.doc as JsonText).value()).toEqual({ items: "é".repeat(LARGE_VALUE_BYTES) });
    expect(record.note).toBe("\uFEFF" + "n".repeat(LARGE_VALUE_BYTES));
    expect([...unchanged]).toEqual(["gone"]);
    const small = readTextTuple(new BinaryReader(tupleData([Buffer.from("1"), Buffer.from("{}"), Buffer.from("\uFEFFx"), null])) as never, relation, null);
    expect(small.note).toBe("\uFEFFx");
    expect(small.gone).toBeNull();
  });

  it("takes a large jsonb value that is not valid UTF-8 as decoded text, not as raw bytes the store would refuse", () => {
    const doc = Buffer.concat([Buffer.from('"'), Buffer.alloc(LARGE_VALUE_BYTES, "a"), Buffer.from([0xff]), Buffer.from('"')]);
    const tuple = readTextTuple(new BinaryReader(tupleData([Buffer.from("1"), doc, null, null])) as never, relation, null);
    const { record } = decodeTuple(new ValueParsers(new Map()), relation, tuple);
    const value = record.doc instanceof JsonText ? record.doc.value() : record.doc;
    expect(record.doc instanceof JsonText && Buffer.isBuffer(record.doc.source)).toBe(false);
    expect((value as string).endsWith("a\uFFFD")).toBe(true);
  });

  it("refuses a column kind it did not ask for", () => {
    const binary = Buffer.concat([Buffer.from([0, 1]), Buffer.from("b"), Buffer.from([0, 0, 0, 1, 1])]);
    expect(() => readTextTuple(new BinaryReader(binary) as never, relation, null)).toThrow(/column kind b/);
  });
});
