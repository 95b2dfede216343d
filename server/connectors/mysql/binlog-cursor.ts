// Binlog positions as cursors: `mysql_binlog:<file>:<position>` (the file as the server names it,
// `mysql-bin.000042`; the position a byte offset in it), and where the server has GTIDs,
// `;gtid=<set>`: every transaction up to that position, as the server writes its GTID state
// (MariaDB's position `0-1-1234,1-2-45`, MySQL's set `3E11FA47-…:1-5,…`). A stream's cursor carries
// it (./changes.ts); the position alone orders and resumes, the set names the same point in a
// server-independent way (docs/connectors.md). The store orders them by the file's
// sequence number, then the offset, within one capture generation (a binlog reset or another server
// starts a new one, docs/lifecycle.md): ((sequence << 32) | offset) << 32, the low 32 bits left
// for the change's index in its transaction.
import { z } from "zod";
import { AppError } from "../../errors/app-error.ts";
import { GtidState } from "./gtid.ts";

const PREFIX = "mysql_binlog:";
// A GTID set's characters (digits, hex uuids, tags, ranges, lists), bounded as the API bounds cursors.
const CURSOR = /^mysql_binlog:([A-Za-z0-9_.-]{1,200}\.(\d{1,10})):(\d{1,20})(?:;gtid=([0-9A-Za-z_:,.-]{0,3800}))?$/;
const SHAPE = "mysql_binlog:mysql-bin.000042:1234, optionally followed by ;gtid=<the server's GTID set at that point>";

export const ZBinlogCursor = z.string().regex(CURSOR, `must look like ${SHAPE}`);

export type BinlogPosition = { file: string; position: number };
/** A position and, where known, the server's GTID set at it (null: the server has none, or it is not known). */
export type BinlogPoint = BinlogPosition & { gtid?: string | null };

export function parseBinlogCursor(cursor: string, field = "cursor"): BinlogPosition & { order: bigint; gtid: string | null } {
  const m = CURSOR.exec(cursor);
  if (!m) throw AppError.invalid([{ path: field, message: `must look like ${SHAPE}, got ${JSON.stringify(cursor).slice(0, 60)}` }]);
  const position = Number(m[3]);
  // A binlog file's events start after its 4-byte magic number.
  if (!Number.isSafeInteger(position) || position < 4 || position >= 2 ** 32) throw AppError.invalid([{ path: field, message: "the binlog offset is out of range (4 to 2^32 - 1)" }]);
  return { file: m[1]!, position, order: (BigInt(m[2]!) << 32n) | BigInt(position), gtid: m[4] || null };
}

export const binlogCursor = (p: BinlogPoint) => `${PREFIX}${p.file}:${p.position}${p.gtid ? `;gtid=${p.gtid}` : ""}`;

/** The sequence number of a binlog file (`mysql-bin.000042` → 42). */
export const fileSequence = (file: string) => Number(/\.(\d+)$/.exec(file)?.[1] ?? NaN);

/** A change's store position: its transaction's start in the high bits, 1 + its index in the transaction in the low 32. */
export function changeOrder(at: BinlogPosition, index: number): bigint {
  return (((BigInt(fileSequence(at.file)) << 32n) | BigInt(at.position)) << 32n) + BigInt(index + 1);
}

/** MySQL's cursors for the pipeline (CursorCodec): a change at a transaction starting at P sorts above `order(P)`. */
export const MYSQL_CURSOR = {
  format: "mysql_binlog:<file>:<position>[;gtid=<GTID set>]",
  /** Checks a cursor (its GTID set too, against what a server writes) and writes it in its one form. */
  parse: (cursor: string, field = "cursor") => {
    const at = parseBinlogCursor(cursor, field);
    return binlogCursor({ ...at, gtid: at.gtid === null ? null : GtidState.parse(at.gtid, field).toString() });
  },
  order: (cursor: string) => parseBinlogCursor(cursor).order << 32n,
};
