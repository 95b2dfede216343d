// What the MySQL password tests' attacker speaks: protocol packets, the server's first handshake
// (v10, offering a sign-in method and, optionally, TLS), an auth switch, and this machine's
// non-loopback address (where a source elsewhere would be).
import os from "node:os";

/** One protocol packet: 3-byte length, sequence number, payload. */
export const packet = (seq: number, payload: Buffer) => Buffer.concat([Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, payload.length >> 16, seq]), payload]);

/** A v10 handshake offering `plugin`, and TLS when `tls` (CLIENT_SSL). */
export function handshake(plugin: string, opts: { tls?: boolean } = {}): Buffer {
  // long password, with db, 4.1, secure connection, plugin auth, lenenc data (+ SSL)
  const caps = 0x1 | 0x8 | 0x200 | 0x8000 | 0x80000 | 0x200000 | (opts.tls ? 0x800 : 0);
  const scramble = Buffer.from("abcdefghijklmnopqrst");
  return packet(
    0,
    Buffer.concat([
      Buffer.from([10]),
      Buffer.from("8.0.36-attacker\0"),
      Buffer.from([1, 0, 0, 0]),
      scramble.subarray(0, 8),
      Buffer.from([0, caps & 0xff, (caps >> 8) & 0xff, 0x21, 2, 0, (caps >> 16) & 0xff, (caps >> 24) & 0xff, 21]),
      Buffer.alloc(10),
      scramble.subarray(8, 20),
      Buffer.from([0]),
      Buffer.from(`${plugin}\0`),
    ]),
  );
}

/** An auth switch request to `plugin`, as packet `seq`. */
export const switchTo = (plugin: string, seq = 2) => packet(seq, Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${plugin}\0`), Buffer.from("abcdefghijklmnopqrst\0")]));

/** This machine's first address that is not loopback. */
export function outward(): string {
  const found = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === "IPv4" && !i.internal);
  if (!found) throw new Error("this test needs a non-loopback IPv4 address on this machine");
  return found.address;
}
