// Incremental sync's bounds on PostgreSQL (docs/incremental.md). A run reads the rows whose
// modification time lies in (lower, upper]; upper trails the server's clock by a lag long enough
// that no transaction still open can commit a row below it later: `now()` inside a transaction is
// its start, so every row a transaction open at the run's start writes with now() stands at or
// above that start, and the oldest such start is what pg_stat_activity shows (to a role that may
// see other sessions: a superuser or a member of pg_read_all_stats).
import type pg from "pg";
import { AppError } from "../../errors/app-error.ts";
import type { IncrementalBounds, IncrementalBoundsOptions } from "../types.ts";
import type { DescribedEntity } from "./catalog.ts";

/** The lag when the source shows no other session's transactions. */
export const DEFAULT_LAG_SECONDS = 300;
/** A date column's bound moves by whole days: a run re-reads at least the last day. */
const DAY_SECONDS = 86_400;

// The column types a bound is computed for, and how "now" reads in each: a timestamp without time
// zone is read as the wall clock of the server's default TimeZone (what an application's now()
// writes into one, unless it sets its own zone: docs/incremental.md).
const CLOCKS: Record<string, string> = {
  "timestamp with time zone": "now()",
  "timestamp without time zone": "(now() AT TIME ZONE (SELECT reset_val FROM pg_settings WHERE name = 'TimeZone'))",
  date: "(now() AT TIME ZONE (SELECT reset_val FROM pg_settings WHERE name = 'TimeZone'))",
};

/** The age in seconds of the oldest transaction open in this database, or null when other sessions' are hidden. */
export async function oldestOpenTransactionSeconds(client: pg.Client): Promise<number | null> {
  const { rows } = await client.query<{ sees: boolean; age: number | null }>(
    `SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS sees,
            (SELECT extract(epoch FROM now() - min(xact_start))::float8 FROM pg_stat_activity
              WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()) AS age`,
  );
  const row = rows[0]!;
  return row.sees ? Math.max(0, row.age ?? 0) : null;
}

export async function incrementalBounds(client: pg.Client, entity: DescribedEntity, options: IncrementalBoundsOptions): Promise<IncrementalBounds> {
  const column = entity.columns.find((c) => c.name === options.cursor[0]);
  if (!column) throw new AppError("BAD_REQUEST", `no column "${options.cursor[0]}" in ${entity.name} (the mapping's cursor)`, { category: "CONFIGURATION" });
  const clock = CLOCKS[column.base_type];
  if (!clock) {
    throw new AppError("BAD_REQUEST", `${entity.name}.${column.name} is ${column.type}: an incremental cursor's first column must be a timestamp, timestamptz or date the writer sets`, { category: "CONFIGURATION" });
  }
  let lag = options.lag_seconds;
  let lagFrom: IncrementalBounds["lag_from"] = "option";
  if (lag === null) {
    const oldest = await oldestOpenTransactionSeconds(client);
    lag = oldest === null ? DEFAULT_LAG_SECONDS : Math.ceil(oldest) + options.lag_margin_seconds;
    lagFrom = oldest === null ? "default" : "open_transactions";
  }
  const lookback = column.base_type === "date" ? Math.max(options.lookback_seconds, DAY_SECONDS) : options.lookback_seconds;
  const type = column.type;
  const { rows } = await client.query<{ upper: string; lower: string | null }>(
    `SELECT (${clock} - make_interval(secs => $1))::${type}::text AS upper,
            ($2::${type} - make_interval(secs => $3))::${type}::text AS lower`,
    [lag, options.previous_upper, lookback],
  );
  return { upper: rows[0]!.upper, lower: rows[0]!.lower, lag_seconds: lag, lag_from: lagFrom };
}
