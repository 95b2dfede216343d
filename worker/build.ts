// Worker processes run as one JavaScript bundle of the project's own code (npm packages stay in
// node_modules and load as they are), not through the TypeScript loader: tsx's hooks run in a
// thread of their own with its own heap, about 40 MiB of every worker's resident memory for
// nothing it does after start (measured, docs/performance.md: a process with the pipeline loaded
// held 103–116 MiB bundled against 144–151 MiB under tsx). `npm start`, `npm run worker`, the tests'
// worker processes and the benchmarks' children all run what buildBundles() made, so what is
// tested and measured is what ships.
//
//   npx tsx scripts/build-worker.ts    builds .build/worker/main.mjs (npm run worker does it first)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { WORKER_NODE_FLAGS } from "./node-flags.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Where bundles go (gitignored); each entry `name` becomes `<BUILD_DIR>/<name>.mjs` beside its source map. */
export const BUILD_DIR = path.join(ROOT, ".build");
const WORKER_ENTRY = { "worker/main": "worker/main.ts" };

/** The bundle of an entry (`worker/main`, `bench/children/cdc`, …) built into `outDir`. */
export const bundlePath = (name: string, outDir = BUILD_DIR) => path.join(outDir, `${name}.mjs`);

/**
 * Bundles each entry (name → TypeScript file, relative to the project) with the project's code
 * inside and every package external, into `outDir`. Each file is replaced whole (written aside,
 * then renamed): a process starting meanwhile loads a whole bundle, the old one or the new one
 * (between the two renames, its map may already be the new one: only a stack trace's line
 * numbers would be off). Warnings are printed; an error throws with esbuild's message (file, line).
 */
export async function buildBundles(entries: Record<string, string>, outDir = BUILD_DIR): Promise<void> {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: entries,
    outdir: outDir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    // Stack traces in logs name the TypeScript lines (the worker runs with --enable-source-maps);
    // the sources' text is left out of the map (Node parses it into every worker's heap).
    sourcemap: "linked",
    sourcesContent: false,
    write: false,
    logLevel: "warning",
  });
  // Maps first: a bundle never points at a map older than itself.
  const files = [...result.outputFiles].sort((a, b) => Number(b.path.endsWith(".map")) - Number(a.path.endsWith(".map")));
  for (const file of files) {
    fs.mkdirSync(path.dirname(file.path), { recursive: true });
    const aside = `${file.path}.${process.pid}.tmp`;
    fs.writeFileSync(aside, file.contents);
    fs.renameSync(aside, file.path);
  }
}

/** Builds the worker's bundle (into `outDir`, .build by default); returns its path. */
export async function buildWorker(outDir = BUILD_DIR): Promise<string> {
  await buildBundles(WORKER_ENTRY, outDir);
  return bundlePath("worker/main", outDir);
}

/**
 * Node's arguments for a worker process running `bundle` (the worker's by default): its flags,
 * source maps, `extraFlags` (a benchmark's profile, say), the bundle.
 */
export function workerNodeArgs(bundle = bundlePath("worker/main"), extraFlags: string[] = []): string[] {
  return [...WORKER_NODE_FLAGS, "--enable-source-maps", ...extraFlags, bundle];
}
