// COPY FROM STDIN text written straight into buffers of about a mebibyte, which go to the socket
// as they are. Building each line as a string and joining a chunk of them cost the snapshot's
// worker a sixth of its time (the lines are ropes that the join flattens, then the chunk is
// encoded to UTF-8 again on its way out); a string written into a buffer is encoded once.

/** Bytes of one buffer (a row larger than that gets a buffer of its own size). */
export const COPY_BUFFER_BYTES = 1 << 20;

const SPECIAL = /[\\\n\r\t]/;
const SPECIALS = /[\\\n\r\t]/g;
const ESCAPED: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** A value as COPY's text format writes it: backslash, newline, carriage return and tab escaped. */
export const copyText = (s: string) => (SPECIAL.test(s) ? s.replace(SPECIALS, (c) => ESCAPED[c]!) : s);

// The bytes COPY's text format escapes (all ASCII, so a byte-wise escape never touches a UTF-8
// sequence, and a slice may end anywhere).
const COPY_SPECIAL = [0x5c, 0x0a, 0x0d, 0x09];

/** UTF-8 bytes as COPY text: the same bytes when nothing needs escaping. */
export function copyBytes(bytes: Buffer): Buffer {
  if (COPY_SPECIAL.every((b) => !bytes.includes(b))) return bytes;
  return Buffer.from(copyText(bytes.toString("latin1")), "latin1"); // latin1: one char per byte, both ways
}

const EMPTY = Buffer.alloc(0);

/** Strings at least this long are measured (Buffer.byteLength) rather than given 3 bytes per unit. */
const MEASURED = 1 << 16;

export class CopyOut {
  private buf = EMPTY;
  /** Where the bytes not yet handed out start, and where the next write goes. */
  private start = 0;
  private at = 0;
  /** Buffers filled, in the order they are to be sent (the caller takes them as it goes). */
  readonly ready: Buffer[] = [];

  /** Text that is COPY text already (no value's text: use `text`). */
  raw(s: string): void {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8 (a surrogate pair, 4 for two).
    this.room(s.length < MEASURED ? 3 * s.length : Buffer.byteLength(s));
    this.at += this.buf.write(s, this.at);
  }

  /** A value's text, escaped. */
  text(s: string): void {
    this.raw(copyText(s));
  }

  /** A value's text, or NULL (`\N`). */
  nullable(s: string | null): void {
    this.raw(s === null ? "\\N" : copyText(s));
  }

  /** A value's UTF-8 bytes, escaped, sent as their own buffer (never copied when nothing needs escaping). */
  bytes(b: Buffer): void {
    this.flush();
    this.ready.push(copyBytes(b));
  }

  /** What is written so far joins the ready buffers (later writes go on in the rest of the buffer). */
  flush(): void {
    if (this.at === this.start) return;
    this.ready.push(this.buf.subarray(this.start, this.at));
    this.start = this.at;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    this.flush();
    // A fresh buffer: the one handed out may still be queued at the socket (only its written part
    // was handed out, so writing on in the rest of it, as flush allows, is safe).
    this.buf = Buffer.allocUnsafe(Math.max(COPY_BUFFER_BYTES, bytes));
    this.start = this.at = 0;
  }
}
