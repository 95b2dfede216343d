import { describe, expect, it } from "vitest";
import { CopyTextDecoder, unescapeCopyField } from "./copy-text.ts";

describe("COPY text format decoding", () => {
  it("unescapes PostgreSQL's escapes and reads \\N as NULL", () => {
    expect(unescapeCopyField("\\N")).toBeNull();
    expect(unescapeCopyField("a\\tb\\nc\\\\d\\r")).toBe("a\tb\nc\\d\r");
    expect(unescapeCopyField("\\101\\x42")).toBe("AB");
    expect(unescapeCopyField("N")).toBe("N");
  });

  it("splits rows across buffer boundaries, including inside a multi-byte character", () => {
    const text = Buffer.from("1\tä😀\t\\N\n2\tx\\ty\tz\n");
    const d = new CopyTextDecoder();
    const rows = [];
    for (let i = 0; i < text.length; i += 3) rows.push(...d.push(text.subarray(i, i + 3)));
    d.end();
    expect(rows).toEqual([
      ["1", "ä😀", null],
      ["2", "x\ty", "z"],
    ]);
  });

  it("refuses output that stops mid-row", () => {
    const d = new CopyTextDecoder();
    d.push(Buffer.from("1\tpartial"));
    expect(() => d.end()).toThrow(/middle of a row/);
  });
});
