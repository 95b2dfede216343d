// The options every connector type shares (the spec's options block), one schema for all of them.
import { z } from "zod";
import { CronExpressionParser } from "cron-parser";

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** How many runs of an entity apart something happens (incremental sync's full passes, its reconciles). */
const everyNRuns = (title: string, description: string) => z.number().int().min(1).max(10_000).optional().meta({ title, description });

/** What is wrong with a cron expression or its time zone (BullMQ reads it with the same parser), or null. */
export function cronProblem(cron: string, timezone?: string): { field: "cron" | "timezone"; message: string } | null {
  if (timezone !== undefined && !validTimeZone(timezone)) return { field: "timezone", message: `unknown time zone "${timezone}": an IANA name such as Europe/Paris or UTC` };
  try {
    CronExpressionParser.parse(cron, { tz: timezone ?? "UTC" }).next();
    return null;
  } catch (e) {
    return { field: "cron", message: `not a cron expression (${(e as Error).message}): five fields (minute hour day month weekday) or six (seconds first), e.g. */15 * * * *` };
  }
}

export const ZSourceOptions = z
  .object({
    batch_size: z.number().int().min(1).max(100_000).default(1000).meta({ title: "Batch size", description: "Rows per snapshot chunk and changes per CDC batch" }),
    change_tracking: z
      .enum(["cdc", "snapshot", "incremental"])
      .default("cdc")
      .meta({
        title: "Change tracking",
        description:
          "cdc: snapshot, then stream changes; snapshot: snapshots only; incremental: runs that read the rows whose cursor column moved since the last run (mapping source.cursor; docs/incremental.md)",
      }),
    incremental: z
      .object({
        lag_seconds: z
          .number()
          .int()
          .min(0)
          .max(7 * 86_400)
          .optional()
          .meta({ title: "Lag (s)", description: "How far behind the source's clock a run's upper bound stays. Default: the age of the oldest transaction the source shows open at the run's start plus 60 s; 300 s when it shows none of other sessions'" }),
        lookback_seconds: z
          .number()
          .int()
          .min(0)
          .max(30 * 86_400)
          .optional()
          .meta({ title: "Look-back (s)", description: "How far before the last run's upper bound the next run starts reading again (default 60; a date cursor column reads at least one day back)" }),
        time_zone: z
          .string()
          .min(1)
          .max(64)
          .optional()
          .meta({
            title: "Writers' time zone",
            description:
              "The zone a cursor without a time zone (PostgreSQL timestamp, MySQL DATETIME, a date) holds the wall clock of (default: UTC on PostgreSQL, the server's time zone on MySQL)",
          }),
        full_every: everyNRuns(
          "Full re-read every N runs",
          "Every Nth run of an entity re-reads every row (default 24): it sees updates that did not move the cursor, and tombstones contexts whose rows are gone",
        ),
        reconcile_every: everyNRuns(
          "Check deletes every N runs",
          "Every Nth run of an entity also checks each of its contexts' rows still exists, reading keys only, and tombstones those whose rows are gone (default 1: every run); a cursor cannot see deletes",
        ),
      })
      .strict()
      .superRefine((s, ctx) => {
        if (s.time_zone !== undefined && !validTimeZone(s.time_zone)) ctx.addIssue({ code: "custom", path: ["time_zone"], message: `unknown time zone "${s.time_zone}": an IANA name such as Europe/Paris or UTC` });
      })
      .optional()
      .meta({ title: "Incremental sync", description: "How incremental runs bound what they read (change_tracking incremental)" }),
    schedule: z
      .union([
        z
          .object({ every_seconds: z.number().int().min(60).max(31 * 86_400).meta({ title: "Every (s)", description: "Seconds between the starts of two runs (at least 60)" }) })
          .strict()
          .meta({ title: "Every N seconds" }),
        z
          .object({
            cron: z.string().min(9).max(100).meta({ title: "Cron", description: "Five or six fields (minute hour day month weekday), e.g. */15 * * * *" }),
            timezone: z.string().min(1).max(64).optional().meta({ title: "Time zone", description: "IANA name the cron expression is read in (default UTC)" }),
          })
          .strict()
          .superRefine((s, ctx) => {
            const problem = cronProblem(s.cron, s.timezone);
            if (problem) ctx.addIssue({ code: "custom", path: [problem.field], message: problem.message });
          })
          .meta({ title: "Cron expression" }),
      ])
      .optional()
      .meta({ title: "Schedule", description: "When runs start by themselves (change_tracking incremental or snapshot); paused and resumed like a stream" }),
    capture_lost: z
      .enum(["fail", "resnapshot"])
      .optional()
      .meta({
        title: "When the capture is lost",
        description:
          "fail (default): a change capture dropped, lost or replaced on the source, or a database moved to another server, fails the source until a full re-snapshot; resnapshot: that full re-snapshot starts by itself (docs/lifecycle.md)",
      }),
    deletes: z
      .enum(["tombstone", "hard"])
      .optional()
      .meta({ title: "Deletes", description: 'tombstone (default): a deleted row\'s context stays, marked deleted; hard: it is removed from the store once no snapshot or replay of the source is running' }),
    retry: z
      .object({
        initial_ms: z.number().int().min(10).max(600_000).optional().meta({ title: "First delay (ms)", description: "First delay before retrying a TRANSIENT error (default ECM_RETRY_INITIAL_MS, 1000)" }),
        max_ms: z.number().int().min(10).max(3_600_000).optional().meta({ title: "Longest delay (ms)", description: "Longest delay between retries (default ECM_RETRY_MAX_MS, 300000)" }),
        factor: z.number().min(1).max(10).optional().meta({ title: "Growth factor", description: "Growth of the delay per attempt (default 2)" }),
      })
      .strict()
      .optional()
      .meta({ title: "Retry", description: "Backoff of this source's TRANSIENT retries (the spec's: 1 s, ×2, at most 5 min)" }),
  })
  .strict()
  .default({ batch_size: 1000, change_tracking: "cdc" });
