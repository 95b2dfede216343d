// Log sequence numbers. PostgreSQL prints them as two hex halves ("16/B374D848"); the replication
// library prints them zero-padded ("00000016/B374D848") or not, depending on where they come from.
// They are compared and stored only as BigInt, never as strings.
import { z } from "zod";
import { AppError } from "../../errors/app-error.ts";

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const CURSOR_PREFIX = "pg_lsn:";

/** A `pg_lsn:X/Y` cursor as API input. */
export const ZLsnCursor = z.string().regex(/^pg_lsn:[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, "must look like pg_lsn:0/16B3748");

export function parseLsn(text: string): bigint {
  const m = LSN.exec(text);
  if (!m) throw new Error(`not an LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The spec's cursor form: `pg_lsn:0/16B3748`. */
export function lsnCursor(lsn: bigint): string {
  return `${CURSOR_PREFIX}${formatLsn(lsn)}`;
}

/** Reads a `pg_lsn:X/Y` cursor; `field` names the input for the error a user sees. */
export function parseLsnCursor(cursor: string, field = "cursor"): bigint {
  const body = cursor.startsWith(CURSOR_PREFIX) ? cursor.slice(CURSOR_PREFIX.length) : null;
  if (body === null || !LSN.test(body)) {
    throw AppError.invalid([{ path: field, message: `must look like pg_lsn:0/16B3748, got ${JSON.stringify(cursor).slice(0, 60)}` }]);
  }
  return parseLsn(body);
}

/**
 * A store position for a change: commit LSN in the high bits, 1 + index in the transaction in
 * the low 32. Snapshot rows take `snapshotPosition` (low bits 0), below every change that commits
 * after the read, so a snapshot row never overwrites a change and a change always wins.
 */
export function changePosition(commitLsn: bigint, index: number): bigint {
  return (commitLsn << 32n) + BigInt(index + 1);
}

export function snapshotPosition(lsn: bigint): bigint {
  return lsn << 32n;
}

/**
 * PostgreSQL's cursors for the pipeline (server/connectors/types.ts CursorCodec): `pg_lsn:X/Y`,
 * ordered as the store orders positions (a change at commit LSN L sorts above `order(L)`).
 */
export const PG_CURSOR = {
  format: "pg_lsn:X/Y",
  parse: (cursor: string, field = "cursor") => lsnCursor(parseLsnCursor(cursor, field)),
  order: (cursor: string) => snapshotPosition(parseLsnCursor(cursor)),
};
