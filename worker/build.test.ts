import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isProductChild } from "../scripts/lib/product-children.ts";
import { BUILD_DIR, buildWorker, workerNodeArgs } from "./build.ts";

// Built beside .build's own bundle, not over it: a running `npm start` or integration run keeps
// the bundle it has. Inside the project, where the bundle's packages resolve (node_modules).
fs.mkdirSync(BUILD_DIR, { recursive: true });
const outDir = fs.mkdtempSync(path.join(BUILD_DIR, "test-"));
afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));

describe("the worker's bundle", () => {
  it("holds the project's code and loads every module without the TypeScript loader", { timeout: 90_000 }, async () => {
    const bundle = await buildWorker(outDir);
    const code = fs.readFileSync(bundle, "utf8");
    // Only packages and Node's modules are left to import at run time (statically or not): no project file, no .ts.
    const imports = [...code.matchAll(/^import\s[^;]*?from\s*"([^"]+)"/gm), ...code.matchAll(/\bimport\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]!);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((i) => i.startsWith(".") || i.startsWith("/") || i.endsWith(".ts"))).toEqual([]);
    expect(imports).not.toContain("esbuild");
    // Stack traces can name the TypeScript lines: the map is there, linked, and names sources, not their text.
    expect(code).toMatch(/\/\/# sourceMappingURL=main\.mjs\.map\s*$/);
    const map = JSON.parse(fs.readFileSync(`${bundle}.map`, "utf8")) as { sources: string[]; sourcesContent?: unknown };
    expect(map.sources.some((s) => s.endsWith("/worker/main.ts"))).toBe(true);
    expect(map.sourcesContent).toBeUndefined();
    // Started without its configuration, the bundle gets as far as the worker's own first check:
    // every module it imports loaded (plain node, no loader) and the message names the variable.
    const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NODE_ENV: "production" as const };
    const run = spawnSync(process.execPath, workerNodeArgs(bundle), { env, encoding: "utf8", timeout: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("DATABASE_URL");
    expect(run.stderr).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION|ERR_MODULE_NOT_FOUND|SyntaxError/);
  });

  it("is what `npm run worker` runs, with the same flags", () => {
    const script = JSON.parse(fs.readFileSync("package.json", "utf8")).scripts.worker as string;
    const run = script.split("&&").at(-1)!.trim();
    const args = workerNodeArgs();
    expect(run).toBe(["node", ...args.slice(0, -1), path.relative(process.cwd(), args.at(-1)!)].join(" "));
    expect(script).toMatch(/^tsx scripts\/build-worker\.ts && /);
    expect(path.relative(process.cwd(), BUILD_DIR)).toBe(".build");
  });

  it("is recognised as npm start's child after a start killed outright (its leftover is stopped)", () => {
    expect(isProductChild([process.execPath, ...workerNodeArgs()].join("\0"))).toBe(true);
    expect(isProductChild(["/usr/bin/python3", "-m", "http.server"].join("\0"))).toBe(false);
  });
});
