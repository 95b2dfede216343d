// The bench children (bench/children/*.ts) run as worker processes do: from bundles
// (worker/build.ts), with the worker's Node flags. Kept apart from the harness, which the children
// themselves import: a child never loads the bundler.
import fs from "node:fs";
import path from "node:path";
import { buildBundles, bundlePath, workerNodeArgs } from "../worker/build.ts";

/**
 * Node's arguments for a bench child (bench/children/<name>.ts) run as a worker process runs:
 * its bundle (worker/build.ts; bench/run.ts builds them first) with the worker's flags, plus
 * BENCH_NODE_FLAGS (for example "--cpu-prof --cpu-prof-dir=/tmp/prof", which NODE_OPTIONS does
 * not accept).
 */
export function workerChild(name: string): string[] {
  return workerNodeArgs(bundlePath(`bench/children/${name}`), process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean));
}

/** Builds every bench child's bundle (the project's code as worker processes run it). */
export function buildChildren(): Promise<void> {
  const dir = path.resolve("bench/children");
  const entries = Object.fromEntries(fs.readdirSync(dir).filter((f) => f.endsWith(".ts")).map((f) => [`bench/children/${f.replace(/\.ts$/, "")}`, `bench/children/${f}`]));
  return buildBundles(entries);
}
