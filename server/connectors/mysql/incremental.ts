// Incremental sync's bounds on MySQL and MariaDB (docs/incremental.md). A run reads the rows whose
// modification time lies in (lower, upper]; upper trails the server's clock by a lag long enough
// that no transaction still open can commit a row below it later. A row a transaction writes
// carries a time at or after the transaction's start (NOW() is the statement's time, ON UPDATE
// CURRENT_TIMESTAMP too), and the oldest start is what information_schema.INNODB_TRX shows (to a
// user with the PROCESS privilege).
import type mysql from "mysql2/promise";
import { AppError } from "../../errors/app-error.ts";
import type { IncrementalBounds, IncrementalBoundsOptions } from "../types.ts";
import type { DescribedEntity } from "./catalog.ts";

/** The lag when the server shows no other session's transactions. */
export const DEFAULT_LAG_SECONDS = 300;
const DAY_SECONDS = 86_400;
const FORMAT = "'%Y-%m-%d %H:%i:%s.%f'";

// How "now" reads for each column type. Sessions run with time_zone '+00:00' (connection.ts): a
// TIMESTAMP is compared in UTC; a DATETIME holds the wall clock its writer's session used, read
// here as the server's default time zone (what an application's NOW() writes into one, unless it
// sets its own zone: docs/incremental.md).
const CLOCKS: Record<string, { now: string; cast: (sql: string) => string }> = {
  timestamp: { now: "UTC_TIMESTAMP(6)", cast: (sql) => `DATE_FORMAT(${sql}, ${FORMAT})` },
  datetime: { now: "CONVERT_TZ(UTC_TIMESTAMP(6), '+00:00', @@global.time_zone)", cast: (sql) => `DATE_FORMAT(${sql}, ${FORMAT})` },
  date: { now: "CONVERT_TZ(UTC_TIMESTAMP(6), '+00:00', @@global.time_zone)", cast: (sql) => `DATE_FORMAT(${sql}, '%Y-%m-%d')` },
};

/** The age in seconds of the oldest transaction open on the server, or null when the user may not see them (PROCESS). */
export async function oldestOpenTransactionSeconds(c: mysql.Connection): Promise<number | null> {
  try {
    const [rows] = await c.query("SELECT TIMESTAMPDIFF(MICROSECOND, MIN(trx_started), NOW(6)) / 1000000 AS age FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id <> CONNECTION_ID()");
    const age = (rows as { age: string | number | null }[])[0]?.age;
    return Math.max(0, Number(age ?? 0));
  } catch (e) {
    if ((e as { code?: string }).code === "ER_SPECIFIC_ACCESS_DENIED_ERROR" || (e as { code?: string }).code === "ER_TABLEACCESS_DENIED_ERROR") return null;
    throw e;
  }
}

export async function incrementalBounds(c: mysql.Connection, entity: DescribedEntity, options: IncrementalBoundsOptions): Promise<IncrementalBounds> {
  const column = entity.columns.find((col) => col.name === options.cursor[0]);
  if (!column) throw new AppError("BAD_REQUEST", `no column "${options.cursor[0]}" in ${entity.name} (the mapping's cursor)`, { category: "CONFIGURATION" });
  const clock = CLOCKS[column.base_type];
  if (!clock) {
    throw new AppError("BAD_REQUEST", `${entity.name}.${column.name} is ${column.type}: an incremental cursor's first column must be a TIMESTAMP, DATETIME or DATE the writer sets`, { category: "CONFIGURATION" });
  }
  let lag = options.lag_seconds;
  let lagFrom: IncrementalBounds["lag_from"] = "option";
  if (lag === null) {
    const oldest = await oldestOpenTransactionSeconds(c);
    lag = oldest === null ? DEFAULT_LAG_SECONDS : Math.ceil(oldest) + options.lag_margin_seconds;
    lagFrom = oldest === null ? "default" : "open_transactions";
  }
  const lookback = column.base_type === "date" ? Math.max(options.lookback_seconds, DAY_SECONDS) : options.lookback_seconds;
  const [rows] = await c.query(
    `SELECT ${clock.cast(`${clock.now} - INTERVAL ? SECOND`)} AS upper,
            ${clock.cast("CAST(? AS DATETIME(6)) - INTERVAL ? SECOND")} AS lower`,
    [lag, options.previous_upper, lookback],
  );
  const row = (rows as { upper: string; lower: string | null }[])[0]!;
  return { upper: String(row.upper), lower: row.lower === null ? null : String(row.lower), lag_seconds: lag, lag_from: lagFrom };
}
