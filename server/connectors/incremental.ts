// What incremental sync's bounds share across connector types (docs/incremental.md): how long the
// lag is, how far back a run reads again, and in which order a pass pages. Each connector computes
// the bounds with its own clock and catalog (postgresql/incremental.ts, mysql/incremental.ts).
import type { IncrementalBounds, IncrementalBoundsOptions } from "./types.ts";

/** The lag when the source shows no other session's transactions (or cannot: a replica). */
export const DEFAULT_LAG_SECONDS = 300;
/** A date cursor moves by whole days: a run reads at least the last day again. */
const DAY_SECONDS = 86_400;
/** A wall clock in a zone with daylight saving goes back an hour once a year: read at least that again. */
const DST_SECONDS = 3_600;

/**
 * The lag: the configured one, else the oldest open transaction's age plus the margin, else (the
 * source hides other sessions' transactions, or is a replica whose primary's it cannot see) the default.
 */
export function decideLag(options: IncrementalBoundsOptions, oldestOpenSeconds: number | null): Pick<IncrementalBounds, "lag_seconds" | "lag_from"> {
  if (options.lag_seconds !== null) return { lag_seconds: options.lag_seconds, lag_from: "option" };
  if (oldestOpenSeconds === null) return { lag_seconds: DEFAULT_LAG_SECONDS, lag_from: "default" };
  return { lag_seconds: Math.ceil(oldestOpenSeconds) + options.lag_margin_seconds, lag_from: "open_transactions" };
}

/** Whether a wall clock in `zone` can go back (daylight saving); an unknown name is taken as yes. */
export function observesDst(zone: string): boolean {
  if (/^(utc|gmt|z|[+-]\d{1,2}:?\d{2})$/i.test(zone.trim())) return false;
  try {
    const offset = (month: number) => new Intl.DateTimeFormat("en", { timeZone: zone, timeZoneName: "longOffset" }).formatToParts(new Date(Date.UTC(2026, month, 1))).find((p) => p.type === "timeZoneName")?.value;
    return offset(0) !== offset(6);
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
