import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { Parser } from "pg-protocol/dist/parser.js";
import { LARGE_MESSAGE_BYTES, ownsMessageBuffer, sizeLargeMessagesExactly } from "./large-messages.ts";

/** A DataRow message ('D') of one text column. */
function dataRow(value: string): Buffer {
  const text = Buffer.from(value);
  const body = Buffer.alloc(2 + 4 + text.length);
  body.writeInt16BE(1, 0);
  body.writeInt32BE(text.length, 2);
  text.copy(body, 6);
  const header = Buffer.alloc(5);
  header.write("D", 0);
  header.writeUInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

/** A CopyData message ('d'): node-postgres hands its payload over as a view of its buffer. */
function copyData(payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write("d", 0);
  header.writeUInt32BE(4 + payload.length, 1);
  return Buffer.concat([header, payload]);
}

function chunks(wire: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < wire.length; at += size) out.push(wire.subarray(at, Math.min(at + size, wire.length)));
  return out;
}

type Internals = { buffer: Buffer };

/** Parses `wire` in chunks, noting every buffer the parser held (by identity). */
function receive(wire: Buffer, size: number) {
  const parser = new Parser();
  const held = new Set<Buffer>();
  const messages: { name: string; fields?: (string | null)[]; chunk?: Buffer }[] = [];
  for (const chunk of chunks(wire, size)) {
    parser.parse(chunk, (m) => messages.push(m as never));
    held.add((parser as unknown as Internals).buffer);
  }
  return { messages, held: [...held] };
}

describe("large protocol messages", () => {
  sizeLargeMessagesExactly();
  sizeLargeMessagesExactly(); // installing twice wraps once

  it("patches the Parser node-postgres itself loads", () => {
    const pgRequire = createRequire(createRequire(import.meta.url).resolve("pg"));
    expect(pgRequire("pg-protocol/dist/parser.js").Parser).toBe(Parser);
  });

  it("receives a large message into one buffer of exactly its size, even when the next message follows in the same chunk", () => {
    const value = "x".repeat(3 * LARGE_MESSAGE_BYTES + 123);
    const large = dataRow(value);
    const wire = Buffer.concat([large, dataRow("after"), dataRow("and more")]);
    const { messages, held } = receive(wire, 65_536);
    expect(messages.map((m) => m.fields?.[0]?.length)).toEqual([value.length, 5, 8]);
    expect(messages[0]!.fields![0]).toBe(value);
    // One buffer for the large message, its own length (the library would have doubled to 4 MiB,
    // copying at 128 KiB, 256 KiB, … 2 MiB on the way, and again for the bytes after it).
    expect(held.filter((b) => b.byteLength > 65_536).map((b) => b.byteLength)).toEqual([large.length]);
  });

  it("keeps a view of a large message valid while later messages arrive, and says the buffer is the message's own", () => {
    const payload = Buffer.alloc(2 * LARGE_MESSAGE_BYTES, "a");
    payload.write("the start", 0);
    const later = Array.from({ length: 40 }, (_, i) => copyData(Buffer.alloc(300_000, String(i % 10))));
    const { messages } = receive(Buffer.concat([copyData(payload), ...later]), 65_536);
    const view = messages[0]!.chunk!;
    expect(ownsMessageBuffer(view)).toBe(true);
    expect(ownsMessageBuffer(messages[1]!.chunk!)).toBe(false); // a small message's view may be reused
    expect(view.equals(payload)).toBe(true);
  });

  it("never allocates for a length the server could not send", () => {
    const parser = new Parser();
    const hostile = Buffer.alloc(5 + 100);
    hostile.write("D", 0);
    hostile.writeUInt32BE(0xffffffff, 1);
    for (const chunk of chunks(hostile, 10)) parser.parse(chunk, () => {});
    expect((parser as unknown as Internals).buffer.byteLength).toBeLessThan(1024);
  });

  it("leaves small messages, and several in one chunk, to the library", () => {
    const wire = Buffer.concat(Array.from({ length: 50 }, (_, i) => dataRow(`row ${i}`)));
    const parser = new Parser();
    const got: string[] = [];
    for (const chunk of chunks(wire, 7)) parser.parse(chunk, (m) => got.push((m as unknown as { fields: string[] }).fields[0]!));
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => `row ${i}`));
  });
});
