import { StringDecoder } from "node:string_decoder";
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
  // StringDecoder keeps a UTF-8 character split across buffers whole; the remainder of a
  // partial line is kept as a string (cheap to prepend, unlike copying buffers together).
  private readonly utf8 = new StringDecoder("utf8");
  private rest = "";

  push(chunk: Buffer): (string | null)[][] {
    const text = this.rest + this.utf8.write(chunk);
    const end = text.lastIndexOf("\n");
    if (end < 0) {
      this.rest = text;
      return [];
    }
    this.rest = text.slice(end + 1);
    const lines = text.slice(0, end).split("\n");
    const rows: (string | null)[][] = new Array(lines.length);
    for (let r = 0; r < lines.length; r++) {
      const line = lines[r]!;
      const fields: (string | null)[] = line.split("\t");
      // Backslashes (escapes and \N for NULL) are rare: look at fields only when the line has one.
      if (line.includes("\\")) for (let i = 0; i < fields.length; i++) fields[i] = unescapeCopyField(fields[i] as string);
      rows[r] = fields;
    }
    return rows;
  }

  end(): void {
    if (this.rest.length || this.utf8.end().length) throw new Error("COPY output ended in the middle of a row");
  }
}
