// Incremental sync's bounds on PostgreSQL (docs/incremental.md). A run reads the rows whose
// modification time lies in (lower, upper]; upper trails the server's clock by a lag long enough
// that no transaction still open can commit a row below it later: `now()` inside a transaction is
// its start, so every row a transaction open at the run's start writes with now() stands at or
// above that start, and the oldest such start is what pg_stat_activity shows (to a role that may
// see other sessions: a superuser or a member of pg_read_all_stats; never on a hot standby, which
// cannot see its primary's transactions).
import type pg from "pg";
import { clockColumn, decideLag, effectiveLookback, type OpenTransactions } from "../incremental.ts";
import type { IncrementalBounds, IncrementalBoundsOptions } from "../types.ts";
import type { DescribedEntity } from "./catalog.ts";


/**
 * The open transactions this session can judge the lag by: the oldest one's age in seconds, or
 * null with why every transaction that may write the tables cannot be seen.
 */
export async function openTransactions(client: pg.Client): Promise<OpenTransactions> {
  const { rows } = await client.query<{ sees: boolean; standby: boolean }>(
    "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS sees, pg_is_in_recovery() AS standby",
  );
  if (rows[0]!.standby) return { hidden: "this is a hot standby: its primary's open transactions cannot be seen", oldest: null };
  if (!rows[0]!.sees) return { hidden: "the role cannot see other sessions' transactions", oldest: null };
  const age = await client.query<{ age: number | null }>(
    `SELECT extract(epoch FROM now() - min(xact_start))::float8 AS age FROM pg_stat_activity
     WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()`,
  );
  return { hidden: null, oldest: Math.max(0, age.rows[0]!.age ?? 0) };
}

export async function incrementalBounds(client: pg.Client, entity: DescribedEntity, options: IncrementalBoundsOptions): Promise<IncrementalBounds> {
  const column = clockColumn(entity, options.cursor[0]!, "timestamp, timestamptz or date");
  const lag = decideLag(options, options.lag_seconds === null ? (await openTransactions(client)).oldest : null);
  // A timestamp without time zone (or a date) holds its writers' wall clock: read "now" in their zone.
  const wallClockZone = column.base_type === "timestamp with time zone" ? null : (options.time_zone ?? "UTC");
  const lookback = effectiveLookback(options, { date: column.base_type === "date", wallClockZone });
  const clock = wallClockZone === null ? "now()" : "(now() AT TIME ZONE $4::text)";
  const type = column.type; // format_type's spelling, from the catalog
  const { rows } = await client.query<{ upper: string; lower: string | null }>(
    `SELECT (${clock} - make_interval(secs => $1))::${type}::text AS upper,
            ($2::${type} - make_interval(secs => $3))::${type}::text AS lower`,
    [lag.lag_seconds, options.previous_upper, lookback, ...(wallClockZone === null ? [] : [wallClockZone])],
  );
  return { upper: rows[0]!.upper, lower: rows[0]!.lower, ...lag };
}
