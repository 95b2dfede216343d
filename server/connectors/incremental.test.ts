import { describe, expect, it } from "vitest";
import { DEFAULT_LAG_SECONDS, decideLag, effectiveLookback, incrementalOrder, observesDst } from "./incremental.ts";
import { cronProblem } from "./options.ts";
import type { IncrementalBoundsOptions } from "./types.ts";

const options = (o: Partial<IncrementalBoundsOptions> = {}): IncrementalBoundsOptions => ({ cursor: ["updated_at"], lag_seconds: null, lag_margin_seconds: 60, lookback_seconds: 60, time_zone: null, previous_upper: null, ...o });

describe("incremental sync's bounds", () => {
  it("takes the configured lag, else the oldest open transaction plus the margin, else the default", () => {
    expect(decideLag(options({ lag_seconds: 5 }), 1000)).toEqual({ lag_seconds: 5, lag_from: "option" });
    expect(decideLag(options(), 12.2)).toEqual({ lag_seconds: 73, lag_from: "open_transactions" });
    expect(decideLag(options(), null)).toEqual({ lag_seconds: DEFAULT_LAG_SECONDS, lag_from: "default" });
  });

  it("reads at least a day back for a date, an hour for a wall clock in a zone with daylight saving", () => {
    expect(effectiveLookback(options(), { date: false, wallClockZone: null })).toBe(60);
    expect(effectiveLookback(options(), { date: true, wallClockZone: "UTC" })).toBe(86_400);
    expect(effectiveLookback(options(), { date: false, wallClockZone: "Europe/Paris" })).toBe(3_600);
    expect(effectiveLookback(options(), { date: false, wallClockZone: "Asia/Tokyo" })).toBe(60);
    expect(effectiveLookback(options({ lookback_seconds: 7200 }), { date: false, wallClockZone: "America/New_York" })).toBe(7200);
    expect([observesDst("UTC"), observesDst("+02:00"), observesDst("Europe/Paris"), observesDst("Not/AZone"), observesDst("SYSTEM")]).toEqual([false, false, true, true, true]);
    expect(observesDst("Africa/Casablanca")).toBe(true); // the same offset in January and July, another in spring
  });

  it("pages by the cursor columns, then the key's columns not among them", () => {
    expect(incrementalOrder(["updated_at"], ["id"])).toEqual(["updated_at", "id"]);
    expect(incrementalOrder(["updated_at", "id"], ["tenant", "id"])).toEqual(["updated_at", "id", "tenant"]);
  });

  it("checks a schedule's cron expression and time zone with the parser BullMQ uses", () => {
    expect(cronProblem("*/15 * * * *")).toBeNull();
    expect(cronProblem("0 9 * * 1-5", "Europe/Paris")).toBeNull();
    expect(cronProblem("every minute")).toMatchObject({ field: "cron" });
    expect(cronProblem("* * * * *", "Mars/Olympus")).toMatchObject({ field: "timezone" });
  });
});
