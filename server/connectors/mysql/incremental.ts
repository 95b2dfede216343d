// Incremental sync's bounds on MySQL and MariaDB (docs/incremental.md). A run reads the rows whose
// modification time lies in (lower, upper]; upper trails the server's clock by a lag long enough
// that no transaction still open can commit a row below it later. A row a transaction writes
// carries a time at or after the transaction's start (NOW() is the statement's time, ON UPDATE
// CURRENT_TIMESTAMP too), and the oldest start is what information_schema.INNODB_TRX shows (to a
// user with the PROCESS privilege; a read-only server, a replica, cannot see its primary's).
import type mysql from "mysql2/promise";
import { AppError } from "../../errors/app-error.ts";
import { clockColumn, decideLag, effectiveLookback, type OpenTransactions } from "../incremental.ts";
import type { IncrementalBounds, IncrementalBoundsOptions } from "../types.ts";
import type { DescribedEntity } from "./catalog.ts";

const FORMAT = "'%Y-%m-%d %H:%i:%s.%f'";

/**
 * The open transactions this session can judge the lag by: the oldest one's age in seconds, or
 * null with why every transaction that may write the tables cannot be seen.
 */
export async function openTransactions(c: mysql.Connection): Promise<OpenTransactions> {
  const [ro] = await c.query("SELECT @@global.read_only AS ro");
  if (Number((ro as { ro: number | string }[])[0]?.ro) === 1) return { hidden: "the server is read-only (a replica): its primary's open transactions cannot be seen", oldest: null };
  try {
    // trx_started is the server's system (OS) clock; this session's NOW() is UTC.
    const [rows] = await c.query(
      "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(trx_started), CONVERT_TZ(UTC_TIMESTAMP(6), '+00:00', 'SYSTEM')) / 1000000 AS age FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id <> CONNECTION_ID()",
    );
    return { hidden: null, oldest: Math.max(0, Number((rows as { age: string | number | null }[])[0]?.age ?? 0)) };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ER_SPECIFIC_ACCESS_DENIED_ERROR" || code === "ER_TABLEACCESS_DENIED_ERROR") return { hidden: "the user cannot see other sessions' transactions (no PROCESS privilege)", oldest: null };
    throw e;
  }
}

export async function incrementalBounds(c: mysql.Connection, entity: DescribedEntity, options: IncrementalBoundsOptions): Promise<IncrementalBounds> {
  const column = clockColumn(entity, options.cursor[0]!, "TIMESTAMP, DATETIME or DATE");
  const lag = decideLag(options, options.lag_seconds === null ? (await openTransactions(c)).oldest : null);
  // A TIMESTAMP compares in this session's zone (UTC); a DATETIME or DATE holds its writers' wall
  // clock: "now" in their zone (the option, else the server's default, what a session's NOW() gives).
  let wallClockZone: string | null = null;
  if (column.base_type !== "timestamp") {
    const [zones] = await c.query("SELECT @@global.time_zone AS g, @@system_time_zone AS s");
    const z = (zones as { g: string; s: string }[])[0]!;
    wallClockZone = options.time_zone ?? (z.g === "SYSTEM" ? z.s : z.g);
    // The system zone is an abbreviation fixed at start-up (a London server started in winter says
    // "GMT"): unless it is UTC, take it to have daylight saving.
    if (!options.time_zone && z.g === "SYSTEM" && z.s !== "UTC") wallClockZone = "SYSTEM";
  }
  const lookback = effectiveLookback(options, { date: column.base_type === "date", wallClockZone });
  const now = wallClockZone === null ? "UTC_TIMESTAMP(6)" : `CONVERT_TZ(UTC_TIMESTAMP(6), '+00:00', ${options.time_zone ? "?" : "@@global.time_zone"})`;
  const format = column.base_type === "date" ? "'%Y-%m-%d'" : FORMAT;
  const [rows] = await c.query(
    `SELECT DATE_FORMAT(${now} - INTERVAL ? SECOND, ${format}) AS upper,
            DATE_FORMAT(CAST(? AS DATETIME(6)) - INTERVAL ? SECOND, ${format}) AS lower`,
    [...(wallClockZone !== null && options.time_zone ? [options.time_zone] : []), lag.lag_seconds, options.previous_upper, lookback],
  );
  const row = (rows as { upper: string | null; lower: string | null }[])[0]!;
  if (row.upper === null) {
    throw new AppError("BAD_REQUEST", `the server cannot convert to the time zone "${wallClockZone}": load its time zone tables (mysql_tzinfo_to_sql), or use a TIMESTAMP cursor (an instant)`, { category: "CONFIGURATION" });
  }
  return { upper: String(row.upper), lower: row.lower === null ? null : String(row.lower), ...lag };
}
