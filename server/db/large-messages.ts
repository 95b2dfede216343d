// node-postgres receives a protocol message into one buffer that grows by doubling, copying what
// it holds each time: a 50 MB message (a large jsonb value in a replication message or a query
// result) costs a 64 MB buffer and the 32 MB one it was copied from, at once, on top of the value
// itself (measured: a worker's array buffers at 112–118 MB for one 50 MB value). Here a large
// message is received into one buffer of exactly its length, allocated once its header is in:
//   - a chunk that runs past the message's end is parsed in two parts: the bytes that follow never
//     make the library grow (and copy) the message's buffer again, and the message ends its
//     buffer, which the library then drops and never writes into again (it would otherwise move
//     what follows to its start): a reader may keep views of the message
//     (postgresql/replication.ts does, asking ownsMessageBuffer() first);
//   - where the process allows it (workers run with --expose-gc: worker/node-flags.ts), the
//     socket's reads (each a fresh 64 KiB buffer, garbage once copied in) are collected every few
//     mebibytes instead of piling up beside the message (~50 MB of them for a 50 MB value).
// Small messages keep the library's own path.
//
// pg-protocol's Parser is private to each connection, so its prototype is wrapped. pg-protocol is
// pinned (package.json) and kept out of Next's bundle (next.config.ts), so the Parser patched here
// is the one pg loads; its fields are checked when the patch is installed.
import { Parser } from "pg-protocol/dist/parser.js";

/** Messages at least this long get a buffer of their exact size. */
export const LARGE_MESSAGE_BYTES = 1 << 20;
// PostgreSQL sends nothing longer (MaxAllocSize): a longer length is a broken or hostile peer,
// left to the library's own growth as bytes actually arrive.
const MAX_SIZED_BYTES = (1 << 30) - 1;
const HEADER_BYTES = 5; // a code byte, then the length (which counts itself, not the code)
const COLLECT_EVERY_BYTES = 8 << 20;

type ParserState = {
  buffer: Buffer;
  bufferOffset: number;
  bufferLength: number;
  mergeBuffer(chunk: Buffer): void;
  parse(chunk: Buffer, callback: (message: unknown) => void): void;
};

/** Buffers that hold exactly one large message and that nothing writes into after it is parsed. */
const messageBuffers = new WeakSet<ArrayBufferLike>();

/** Whether `bytes` lies in a large message's own buffer (a view of it stays valid). */
export function ownsMessageBuffer(bytes: Uint8Array): boolean {
  return messageBuffers.has(bytes.buffer);
}

const installed = Symbol.for("ecm.pg-protocol.large-messages");

/** The length of the large message the parser holds the start of, or 0. */
function largeMessageBytes(p: ParserState): number {
  if (p.bufferLength < HEADER_BYTES) return 0;
  const bytes = 1 + p.buffer.readUInt32BE(p.bufferOffset + 1);
  return bytes >= LARGE_MESSAGE_BYTES && bytes <= MAX_SIZED_BYTES ? bytes : 0;
}

let copiedSinceCollect = 0;
function collectCopiedChunks(bytes: number) {
  const gc = (globalThis as { gc?: (options: { type: "minor" }) => void }).gc;
  if (!gc || (copiedSinceCollect += bytes) < COLLECT_EVERY_BYTES) return;
  copiedSinceCollect = 0;
  gc({ type: "minor" }); // young objects only: about a millisecond
}

export function sizeLargeMessagesExactly(): void {
  const proto = Parser.prototype as unknown as ParserState & { [installed]?: true };
  if (proto[installed]) return;
  const probe = new Parser() as unknown as ParserState;
  if (!Buffer.isBuffer(probe.buffer) || typeof probe.bufferOffset !== "number" || typeof probe.bufferLength !== "number" || typeof proto.mergeBuffer !== "function" || typeof proto.parse !== "function") {
    throw new Error("pg-protocol's Parser no longer has the fields server/db/large-messages.ts sizes: update that module with the library");
  }
  const merge = proto.mergeBuffer;
  proto.mergeBuffer = function (this: ParserState, chunk: Buffer) {
    const messageBytes = largeMessageBytes(this);
    if (messageBytes) {
      if (this.bufferOffset + this.bufferLength + chunk.byteLength > this.buffer.byteLength) {
        let sized: Buffer | null = null;
        try {
          sized = Buffer.allocUnsafe(messageBytes); // parse() never hands over more than the message
        } catch {
          // Out of memory for it: the library's growth reports the same as it always did.
        }
        if (sized) {
          this.buffer.copy(sized, 0, this.bufferOffset, this.bufferOffset + this.bufferLength);
          messageBuffers.add(sized.buffer);
          this.buffer = sized;
          this.bufferOffset = 0;
        }
      }
      collectCopiedChunks(chunk.byteLength);
    }
    merge.call(this, chunk);
  };
  const parse = proto.parse;
  proto.parse = function (this: ParserState, chunk: Buffer, callback: (message: unknown) => void) {
    const messageBytes = largeMessageBytes(this);
    const missing = messageBytes - this.bufferLength;
    if (messageBytes && chunk.byteLength > missing) {
      this.parse(chunk.subarray(0, missing), callback);
      this.parse(chunk.subarray(missing), callback);
      return;
    }
    // A large message's last bytes end the chunk: the library, having parsed it, drops its buffer
    // (nothing is left in it), and never writes into it again.
    parse.call(this, chunk, callback);
  };
  proto[installed] = true;
}
