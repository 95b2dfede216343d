// Benchmark harness: `npm run bench <scenario>`. Every figure is printed beside a baseline
// measured in the same run on the same machine, with the ratio; the run ends with one JSON line.
import { readFileSync } from "node:fs";
import os from "node:os";
import { ZEnv } from "../server/env.ts";

export type Figure = { name: string; value: number; unit: string; baseline: { name: string; value: number }; higherIsBetter?: boolean; target?: number };
export type BenchResult = { scenario: string; machine: string; started_at: string; figures: Figure[]; extra?: Record<string, unknown> };

export function machine(): string {
  return `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? "cpu"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${os.platform()}`;
}

export function ratio(f: Figure): number {
  return (f.higherIsBetter ?? true) ? f.value / f.baseline.value : f.baseline.value / f.value;
}

export function report(result: BenchResult) {
  console.log(`\n${result.scenario} on ${result.machine}`);
  const rows = result.figures.map((f) => [
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    `${f.baseline.name}: ${fmt(f.baseline.value)} ${f.unit}`,
    `${ratio(f).toFixed(2)}×${f.target !== undefined ? (ratio(f) >= f.target ? ` (target ≥ ${f.target}× met)` : ` (target ≥ ${f.target}× NOT met)`) : ""}`,
  ]);
  printTable(rows);
  console.log(JSON.stringify({ ...result, figures: result.figures.map((f) => ({ ...f, ratio: Number(ratio(f).toFixed(3)) })) }));
}

/** A figure over the rounds, in round order (null: the figure is missing from that round). */
export type RoundsSummary = { name: string; unit: string; values: (number | null)[]; ratios: (number | null)[]; median_ratio: number; target?: number; met_in?: number };

/**
 * Several rounds of one scenario (`--rounds N`), figure by figure: each round's ratio (each against
 * the baseline of its own round), their median, and in how many rounds a target was met. Runs on
 * a shared machine vary by a third; one round's ratio decides nothing, and a target counts as met
 * only when every round met it.
 */
export function summarizeRounds(results: BenchResult[]): RoundsSummary[] {
  const names = [...new Set(results.flatMap((r) => r.figures.map((f) => f.name)))];
  return names.map((name) => {
    const same = results.map((r) => r.figures.find((g) => g.name === name) ?? null);
    const f = same.find((g): g is Figure => g !== null)!;
    const ratios = same.map((g) => (g ? Number(ratio(g).toFixed(3)) : null));
    const present = ratios.filter((r): r is number => r !== null);
    return {
      name,
      unit: f.unit,
      values: same.map((g) => (g ? Math.round(g.value * 100) / 100 : null)),
      ratios,
      median_ratio: median(present),
      ...(f.target !== undefined ? { target: f.target, met_in: present.filter((r) => r >= f.target!).length } : {}),
    };
  });
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Whether a figure met its target in every round (a missing round is not a met one). */
export const metInEveryRound = (f: RoundsSummary) => f.target !== undefined && f.met_in === f.ratios.length;

export function reportRounds(scenario: string, summary: RoundsSummary[], rounds: number) {
  console.log(`\n${scenario}: ${rounds} rounds, each figure against its own round's baseline (ratios to 3 places)`);
  const rows = summary.map((f) => [
    f.name,
    f.ratios.map((r) => (r === null ? "—" : `${r.toFixed(3)}×`)).join(" · "),
    `median ${f.median_ratio.toFixed(3)}×`,
    f.target === undefined ? "" : `target ≥ ${f.target}×: met in ${f.met_in} of ${f.ratios.length} rounds${metInEveryRound(f) ? " (met)" : " (NOT met)"}`,
  ]);
  printTable(rows);
  console.log(JSON.stringify({ scenario, rounds, summary }));
}

/** Rows of cells, each column padded to its widest cell. */
function printTable(rows: string[][]) {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log("  " + r.map((c, i) => c.padEnd(widths[i]!)).join("   "));
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2);
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; result: T }> {
  const t0 = process.hrtime.bigint();
  const result = await fn();
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, result };
}

/**
 * How busy the whole machine was (every core, every process: 0..1) while `fn` ran, from
 * /proc/stat (null where there is none). Near 1, the run was bound by the machine's CPU: a faster
 * figure then needs less CPU per row somewhere (worker, store or source), not more parallelism.
 */
export async function withMachineBusy<T>(fn: () => Promise<T>): Promise<{ result: T; busy: number | null }> {
  const before = cpuTimes();
  const result = await fn();
  const after = cpuTimes();
  if (!before || !after) return { result, busy: null };
  const total = after.total - before.total;
  return { result, busy: total > 0 ? Math.round((1000 * (total - (after.idle - before.idle))) / total) / 1000 : null };
}

function cpuTimes(): { total: number; idle: number } | null {
  try {
    // "cpu  user nice system idle iowait irq softirq steal guest guest_nice" (jiffies since boot,
    // all cores). Guest time is already counted in user and nice; steal (a hypervisor running
    // something else) counts as busy. In a container this is the host's CPU, not the container's.
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), idle: f[3]! + (f[4] ?? 0) };
  } catch {
    return null;
  }
}

/**
 * BENCH_MEMORY=1: a child's peak heap, external buffers and RSS, sampled every 50 ms; the returned
 * function stops sampling and prints them (MiB) on stderr. Nothing is sampled otherwise.
 */
export function memoryPeaks(): () => void {
  if (!process.env.BENCH_MEMORY) return () => {};
  const peak = { heap: 0, external: 0, arrayBuffers: 0, rss: 0 };
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak.heap = Math.max(peak.heap, m.heapUsed);
    peak.external = Math.max(peak.external, m.external);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
    peak.rss = Math.max(peak.rss, m.rss);
  }, 50);
  return () => {
    clearInterval(sampler);
    console.error("memory peaks (MiB)", Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, Math.round(v / 2 ** 20)])));
  };
}

/** A numeric command-line option of a scenario (`npm run bench x -- --rows 1000`). */
export function numberArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

/**
 * The worker's CPU over its run as a share of one core (user and system): near 1, its one thread
 * is the pipeline's bound; well below, the worker waits for the source or the store.
 */
export function workerShare(child: { seconds: number; cpu_user_s: number; cpu_system_s: number }) {
  const share = (s: number) => Math.round((100 * s) / child.seconds) / 100;
  return { user: share(child.cpu_user_s), system: share(child.cpu_system_s), total: share(child.cpu_user_s + child.cpu_system_s) };
}

/** A worker setting as the bench's child reads it: the variable from this environment, or its default. */
export const childSetting = <K extends keyof typeof ZEnv.shape>(name: K) => ZEnv.shape[name].parse(process.env[name] || undefined); // empty is unset, as parseEnv has it
