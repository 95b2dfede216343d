// What incremental sync's bounds share across connector types (docs/incremental.md): how long the
// lag is, how far back a run reads again, and in which order a pass pages. Each connector computes
// the bounds with its own clock and catalog (postgresql/incremental.ts, mysql/incremental.ts).
import { AppError } from "../errors/app-error.ts";
import { pass, warn } from "./checks.ts";
import type { ColumnSchema, HealthCheck, IncrementalBounds, IncrementalBoundsOptions } from "./types.ts";

/** The lag when the source shows no other session's transactions (or cannot: a replica). */
export const DEFAULT_LAG_SECONDS = 300;
/** A date cursor moves by whole days: a run reads at least the last day again. */
const DAY_SECONDS = 86_400;
/** A wall clock in a zone with daylight saving goes back an hour once a year: read at least that again. */
const DST_SECONDS = 3_600;

/** The open transactions a source shows: the oldest one's age (seconds), or null with why it cannot show them all. */
export type OpenTransactions = { hidden: null; oldest: number } | { hidden: string; oldest: null };

/**
 * The lag: the configured one, else the oldest open transaction's age plus the margin, else (the
 * source hides other sessions' transactions, or is a replica whose primary's it cannot see) the default.
 */
export function decideLag(options: IncrementalBoundsOptions, oldestOpenSeconds: number | null): Pick<IncrementalBounds, "lag_seconds" | "lag_from"> {
  if (options.lag_seconds !== null) return { lag_seconds: options.lag_seconds, lag_from: "option" };
  if (oldestOpenSeconds === null) return { lag_seconds: DEFAULT_LAG_SECONDS, lag_from: "default" };
  return { lag_seconds: Math.ceil(oldestOpenSeconds) + options.lag_margin_seconds, lag_from: "open_transactions" };
}

/** Whether a wall clock in `zone` can go back (its offset changes in the year); an unknown name is taken as yes. */
export function observesDst(zone: string): boolean {
  if (/^(utc|etc\/utc|z|[+-]\d{1,2}:?\d{2})$/i.test(zone.trim())) return false;
  try {
    const format = new Intl.DateTimeFormat("en", { timeZone: zone, timeZoneName: "longOffset" });
    const offsets = new Set(Array.from({ length: 12 }, (_, month) => format.formatToParts(new Date(Date.UTC(2026, month, 15))).find((p) => p.type === "timeZoneName")?.value));
    return offsets.size > 1;
  } catch {
    return true;
  }
}

/**
 * How far before the previous upper bound a run starts: the configured look-back, at least a day
 * for a date cursor, at least an hour for a wall clock (no time zone) in a zone with daylight
 * saving (its clock repeats an hour in the autumn, below a bound already passed).
 */
export function effectiveLookback(options: IncrementalBoundsOptions, cursor: { date: boolean; wallClockZone: string | null }): number {
  let lookback = options.lookback_seconds;
  if (cursor.date) lookback = Math.max(lookback, DAY_SECONDS);
  if (cursor.wallClockZone !== null && observesDst(cursor.wallClockZone)) lookback = Math.max(lookback, DST_SECONDS);
  return lookback;
}

/** A pass's page order: the cursor columns, then the key's columns not among them. */
export function incrementalOrder(cursor: string[], key: string[]): string[] {
  return [...cursor, ...key.filter((k) => !cursor.includes(k))];
}

/** The cursor's first column, which must be one the source's clock can bound (`clock`, set by the connector's catalog). */
export function clockColumn<C extends ColumnSchema>(entity: { name: string; columns: C[] }, name: string, accepted: string): C {
  const column = entity.columns.find((c) => c.name === name);
  if (!column) throw new AppError("BAD_REQUEST", `no column "${name}" in ${entity.name} (the mapping's cursor)`, { category: "CONFIGURATION" });
  if (!column.clock) throw new AppError("BAD_REQUEST", `${entity.name}.${column.name} is ${column.type}: an incremental cursor's first column must be a ${accepted} the writer sets`, { category: "CONFIGURATION" });
  return column;
}

/** The health check of the lag: following the oldest open transaction, or why it cannot and what to do. */
export function lagCheck(open: OpenTransactions, hint: string, configured?: number): HealthCheck {
  if (configured !== undefined) return pass("incremental_lag", `the lag is set: ${configured} s (options.incremental.lag_seconds)`);
  return open.hidden !== null
    ? warn("incremental_lag", `${open.hidden}: runs keep a ${DEFAULT_LAG_SECONDS} s lag behind the clock instead of following the oldest open transaction`, hint)
    : pass("incremental_lag", `the lag follows the oldest open transaction (${Math.round(open.oldest)} s old now)`);
}

/** The health check of the cursors' indexes: each first cursor column should lead an index (`createIndex`: the statement that makes one). */
export function cursorIndexCheck(cursors: number, unindexed: { table: string; column: string }[], createIndex: (u: { table: string; column: string }) => string): HealthCheck {
  return unindexed.length
    ? warn("cursor_index", `no index starts with the cursor of ${unindexed.map((u) => `${u.table} (${u.column})`).join(", ")}: each run reads the whole table to find what moved`, unindexed.map(createIndex).join("; "))
    : pass("cursor_index", `every cursor column leads an index (${cursors} table${cursors === 1 ? "" : "s"})`);
}
