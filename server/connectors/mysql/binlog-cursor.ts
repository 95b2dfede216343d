// Binlog positions as cursors: `mysql_binlog:<file>:<position>` (the file as the server names it,
// `mysql-bin.000042`; the position a byte offset in it). The store orders them by the file's
// sequence number, then the offset, within one capture generation (a binlog reset or another server
// starts a new one, docs/lifecycle.md): ((sequence << 32) | offset) << 32, the low 32 bits left
// for the change's index in its transaction.
import { z } from "zod";
import { AppError } from "../../errors/app-error.ts";

const PREFIX = "mysql_binlog:";
const CURSOR = /^mysql_binlog:([A-Za-z0-9_.-]{1,200}\.(\d{1,10})):(\d{1,20})$/;

export const ZBinlogCursor = z.string().regex(CURSOR, "must look like mysql_binlog:mysql-bin.000042:1234");

export type BinlogPosition = { file: string; position: number };

export function parseBinlogCursor(cursor: string, field = "cursor"): BinlogPosition & { order: bigint } {
  const m = CURSOR.exec(cursor);
  if (!m) throw AppError.invalid([{ path: field, message: `must look like mysql_binlog:mysql-bin.000042:1234, got ${JSON.stringify(cursor).slice(0, 60)}` }]);
  const position = Number(m[3]);
  // A binlog file's events start after its 4-byte magic number.
  if (!Number.isSafeInteger(position) || position < 4 || position >= 2 ** 32) throw AppError.invalid([{ path: field, message: "the binlog offset is out of range (4 to 2^32 - 1)" }]);
  return { file: m[1]!, position, order: (BigInt(m[2]!) << 32n) | BigInt(position) };
}

export const binlogCursor = (p: BinlogPosition) => `${PREFIX}${p.file}:${p.position}`;

/** The sequence number of a binlog file (`mysql-bin.000042` → 42). */
export const fileSequence = (file: string) => Number(/\.(\d+)$/.exec(file)?.[1] ?? NaN);

/** A change's store position: its transaction's start in the high bits, 1 + its index in the transaction in the low 32. */
export function changeOrder(at: BinlogPosition, index: number): bigint {
  return (((BigInt(fileSequence(at.file)) << 32n) | BigInt(at.position)) << 32n) + BigInt(index + 1);
}

/** MySQL's cursors for the pipeline (CursorCodec): a change at a transaction starting at P sorts above `order(P)`. */
export const MYSQL_CURSOR = {
  format: "mysql_binlog:<file>:<position>",
  parse: (cursor: string, field = "cursor") => binlogCursor(parseBinlogCursor(cursor, field)),
  order: (cursor: string) => parseBinlogCursor(cursor).order << 32n,
};
