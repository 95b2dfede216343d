import { describe, expect, it } from "vitest";
import { median, metInEveryRound, summarizeRounds, type BenchResult } from "./harness.ts";

const round = (drain: number, baseline: number, steady?: number): BenchResult => ({
  scenario: "cdc",
  machine: "test",
  started_at: "2026-12-07T00:00:00Z",
  figures: [
    { name: "drain", value: drain, unit: "changes/s", baseline: { name: "pg_recvlogical", value: baseline }, target: 0.5 },
    ...(steady === undefined ? [] : [{ name: "latency", value: steady, unit: "ms", baseline: { name: "bound", value: 50 }, higherIsBetter: false }]),
  ],
});

describe("bench rounds", () => {
  it("takes the median of odd and even counts, and NaN of nothing", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("puts each figure's ratios side by side, each against its own round's baseline, and counts the rounds that met its target", () => {
    const summary = summarizeRounds([round(30, 100, 25), round(60, 100, 10), round(20, 50, 100)]);
    expect(summary[0]).toEqual({ name: "drain", unit: "changes/s", values: [30, 60, 20], ratios: [0.3, 0.6, 0.4], median_ratio: 0.4, target: 0.5, met_in: 1 });
    expect(metInEveryRound(summary[0]!)).toBe(false);
    expect(metInEveryRound(summarizeRounds([round(50, 100), round(60, 100)])[0]!)).toBe(true);
    // Lower is better: the ratio is the baseline over the value.
    expect(summary[1]!.ratios).toEqual([2, 5, 0.5]);
    expect(summary[1]!).not.toHaveProperty("target");
    expect(summary[1]!).not.toHaveProperty("met_in");
  });

  it("keeps each ratio in its round: a figure missing from a round is null there, and never met there", () => {
    const summary = summarizeRounds([round(30, 100), round(60, 100, 10), round(50, 100)]);
    expect(summary.map((f) => f.ratios)).toEqual([[0.3, 0.6, 0.5], [null, 5, null]]);
    expect(summary[1]!.values).toEqual([null, 10, null]);
    const sometimes = summarizeRounds([round(60, 100), { ...round(0, 1), figures: [] }]);
    expect(sometimes[0]!.ratios).toEqual([0.6, null]);
    expect(metInEveryRound(sometimes[0]!)).toBe(false);
  });
});
