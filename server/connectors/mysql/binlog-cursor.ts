// Binlog positions as cursors: `mysql_binlog:<file>:<position>` (the file as the server names it,
// `mysql-bin.000042`; the position a byte offset in it), and on MariaDB `;gtid=<position>`: the
// server's GTID state at that point (`0-1-1234,1-2-45`, ./gtid.ts). A stream's commit cursors carry
// it (./changes.ts); a change's own cursor (its transaction's start, kept with its context) and a
// capture's start are positions only. The position alone orders and resumes (docs/connectors.md). The store orders them by the file's
// sequence number, then the offset, within one capture generation (a binlog reset or another server
// starts a new one, docs/lifecycle.md): ((sequence << 32) | offset) << 32, the low 32 bits left
// for the change's index in its transaction.
import { z } from "zod";
import { AppError } from "../../errors/app-error.ts";
import { parseGtidPosition } from "./gtid.ts";

const PREFIX = "mysql_binlog:";
/** The longest GTID position a cursor carries (a cursor stays within the API's 4096 characters). */
export const MAX_GTID_CHARS = 3800;
const CURSOR = new RegExp(`^mysql_binlog:([A-Za-z0-9_.-]{1,200}\\.(\\d{1,10})):(\\d{1,20})(?:;gtid=([0-9,-]{0,${MAX_GTID_CHARS}}))?$`);
const SHAPE = "mysql_binlog:mysql-bin.000042:1234, optionally followed by ;gtid=<MariaDB's GTID position at that point>";

export const ZBinlogCursor = z.string().regex(CURSOR, `must look like ${SHAPE}`);

export type BinlogPosition = { file: string; position: number };
/** A position and, where known, MariaDB's GTID position at it (null: not known, or a MySQL server). */
export type BinlogPoint = BinlogPosition & { gtid: string | null };

export function parseBinlogCursor(cursor: string, field = "cursor"): BinlogPosition & { order: bigint; gtid: string | null } {
  const m = CURSOR.exec(cursor);
  if (!m) throw AppError.invalid([{ path: field, message: `must look like ${SHAPE}, got ${JSON.stringify(cursor).slice(0, 60)}` }]);
  const position = Number(m[3]);
  // A binlog file's events start after its 4-byte magic number.
  if (!Number.isSafeInteger(position) || position < 4 || position >= 2 ** 32) throw AppError.invalid([{ path: field, message: "the binlog offset is out of range (4 to 2^32 - 1)" }]);
  return { file: m[1]!, position, order: (BigInt(m[2]!) << 32n) | BigInt(position), gtid: m[4] || null };
}

/** A cursor; a GTID position too long for one (thousands of domains) is left out, never cut. */
export const binlogCursor = (p: BinlogPosition & { gtid?: string | null }) =>
  `${PREFIX}${p.file}:${p.position}${p.gtid && p.gtid.length <= MAX_GTID_CHARS ? `;gtid=${p.gtid}` : ""}`;

/** The sequence number of a binlog file (`mysql-bin.000042` → 42). */
export const fileSequence = (file: string) => Number(/\.(\d+)$/.exec(file)?.[1] ?? NaN);

/** A change's store position: its transaction's start in the high bits, 1 + its index in the transaction in the low 32. */
export function changeOrder(at: BinlogPosition, index: number): bigint {
  return (((BigInt(fileSequence(at.file)) << 32n) | BigInt(at.position)) << 32n) + BigInt(index + 1);
}

/** MySQL's cursors for the pipeline (CursorCodec): a change at a transaction starting at P sorts above `order(P)`. */
export const MYSQL_CURSOR = {
  format: "mysql_binlog:<file>:<position>[;gtid=<MariaDB GTID position>]",
  /** Checks a cursor (its GTID position too) and writes it in its one form. */
  parse: (cursor: string, field = "cursor") => {
    const at = parseBinlogCursor(cursor, field);
    return binlogCursor({ ...at, gtid: at.gtid === null ? null : parseGtidPosition(at.gtid, field).toString() });
  },
  order: (cursor: string) => parseBinlogCursor(cursor).order << 32n,
};
