// Decoder for COPY … TO STDOUT in text format: a stream of buffers → rows of field texts (null
// for \N), unescaped. The field texts are exactly what the text protocol would send, so the same
// value parsers apply.

const ESCAPES: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\" };

export function unescapeCopyField(field: string): string | null {
  if (field === "\\N") return null;
  if (!field.includes("\\")) return field;
  let out = "";
  for (let i = 0; i < field.length; i++) {
    const c = field[i]!;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const n = field[++i]!;
    const simple = ESCAPES[n];
    if (simple !== undefined) out += simple;
    else if (n >= "0" && n <= "7") {
      let digits = n;
      while (digits.length < 3 && field[i + 1]! >= "0" && field[i + 1]! <= "7") digits += field[++i];
      out += String.fromCharCode(parseInt(digits, 8));
    } else if (n === "x") {
      let digits = "";
      while (digits.length < 2 && /[0-9a-fA-F]/.test(field[i + 1] ?? "")) digits += field[++i];
      out += String.fromCharCode(parseInt(digits, 16));
    } else out += n;
  }
  return out;
}

/** Splits COPY text output into rows. Feed buffers with push(); rows come back as they complete. */
export class CopyTextDecoder {
  private rest: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): (string | null)[][] {
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const end = buf.lastIndexOf(0x0a);
    if (end < 0) {
      this.rest = buf;
      return [];
    }
    this.rest = buf.subarray(end + 1);
    // Splitting UTF-8 text on \n and \t is safe: neither byte occurs inside a multi-byte character.
    const lines = buf.toString("utf8", 0, end).split("\n");
    return lines.map((line) => line.split("\t").map(unescapeCopyField));
  }

  end(): void {
    if (this.rest.length) throw new Error("COPY output ended in the middle of a row");
  }
}
