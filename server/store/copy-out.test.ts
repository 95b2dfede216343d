import { describe, expect, it } from "vitest";
import { COPY_BUFFER_BYTES, CopyOut, copyBytes, copyText } from "./copy-out.ts";

const sent = (out: CopyOut) => {
  out.flush();
  return Buffer.concat(out.ready.splice(0)).toString("utf8");
};

describe("CopyOut (COPY text into buffers)", () => {
  it("escapes a value's backslash, newline, carriage return and tab, and writes raw text as it is", () => {
    const out = new CopyOut();
    out.text("a\\b\nc\rd\te");
    out.raw("\t");
    out.nullable(null);
    out.raw("\t");
    out.nullable("x\ty");
    out.raw("\n");
    expect(sent(out)).toBe("a\\\\b\\nc\\rd\\te\t\\N\tx\\ty\n");
  });

  it("writes every plane of UTF-8 exactly, across buffer boundaries", () => {
    const out = new CopyOut();
    const line = "é€𝄞😀\u{10FFFF}z\t";
    const lines = Math.ceil((2 * COPY_BUFFER_BYTES) / Buffer.byteLength(line)) + 3;
    for (let i = 0; i < lines; i++) out.text(line);
    out.flush();
    // Several buffers, none beyond the buffer size, which together are the text.
    expect(out.ready.length).toBeGreaterThan(1);
    for (const b of out.ready) expect(b.length).toBeLessThanOrEqual(COPY_BUFFER_BYTES);
    expect(Buffer.concat(out.ready).toString("utf8")).toBe(copyText(line).repeat(lines));
  });

  it("gives a value larger than a buffer a buffer of its own, after what came before it", () => {
    const out = new CopyOut();
    out.raw("head\t");
    const big = "ab\\".repeat(COPY_BUFFER_BYTES);
    out.text(big);
    out.raw("\n");
    out.flush();
    // What came before goes first, alone; the large value gets a buffer of exactly its size.
    expect(out.ready.map((b) => b.length)).toEqual([5, 4 * COPY_BUFFER_BYTES, 1]);
    expect(Buffer.concat(out.ready).toString("utf8")).toBe(`head\t${"ab\\\\".repeat(COPY_BUFFER_BYTES)}\n`);
  });

  it("sends bytes as they are when nothing needs escaping, and escaped (UTF-8 untouched) when something does", () => {
    const plain = Buffer.from('{"k":"é€"}');
    expect(copyBytes(plain)).toBe(plain);
    const out = new CopyOut();
    out.raw("x\t");
    out.bytes(Buffer.from('{"k":"a\\nb é"}'));
    out.raw("\n");
    expect(sent(out)).toBe('x\t{"k":"a\\\\nb é"}\n');
  });

  it("never changes a buffer it handed out when it writes on in the rest of it", () => {
    const out = new CopyOut();
    out.raw("first\t");
    out.flush();
    const handed = out.ready.splice(0);
    out.raw("second\n");
    out.bytes(Buffer.from("third"));
    out.raw("fourth");
    expect(handed.map((b) => b.toString())).toEqual(["first\t"]);
    expect(sent(out)).toBe("second\nthirdfourth");
  });

  it("keeps the order of text and bytes, and sends nothing for nothing written", () => {
    const out = new CopyOut();
    out.flush();
    expect(out.ready).toEqual([]);
    out.raw("1");
    out.bytes(Buffer.from("2"));
    out.raw("3");
    expect(sent(out)).toBe("123");
  });
});
