// The import graph keeps the architecture (ARCHITECTURE.md, docs/connectors.md): the connector port
// is the only way the pipeline, the API and the worker see a source, so nothing outside a
// connector's folder imports from it (the registry's one line per type excepted), and the arrows
// that must never exist do not.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");
const PRODUCT_DIRS = ["server", "worker", "app", "components", "scripts", "cli"];
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g;

type Edge = { from: string; to: string };

function sourceFiles(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return [];
  return fs.readdirSync(abs, { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" ? [] : sourceFiles(rel);
    return /\.(ts|tsx)$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) ? [rel] : [];
  });
}

/** Every import of every product file, as repository-relative paths (packages are left out). */
function importEdges(): Edge[] {
  return PRODUCT_DIRS.flatMap(sourceFiles).flatMap((from) => {
    const text = fs.readFileSync(path.join(ROOT, from), "utf8");
    return [...text.matchAll(SPECIFIER)].flatMap(([, spec]) => {
      if (spec!.startsWith("@/")) return [{ from, to: path.normalize(spec!.slice(2)) }];
      if (spec!.startsWith(".")) return [{ from, to: path.normalize(path.join(path.dirname(from), spec!)) }];
      return [];
    });
  });
}

const under = (file: string, dir: string) => file === dir || file.startsWith(`${dir}/`);

/** The rules, each as the edges that break it. */
export function violations(edges: Edge[], connectorDirs: string[]): string[] {
  const out: string[] = [];
  for (const { from, to } of edges) {
    for (const dir of connectorDirs) {
      if (under(to, dir) && !under(from, dir) && from !== "server/connectors/registry.ts") out.push(`${from} reaches into ${to}: use the connector port (server/connectors/types.ts)`);
    }
    if (under(from, "server") && ["app", "components", "worker"].some((d) => under(to, d))) out.push(`${from} imports ${to}: server/ never depends on the UI or the worker`);
    if (under(from, "server/connectors") && under(to, "server/api")) out.push(`${from} imports ${to}: connectors never depend on the API`);
  }
  return out;
}

const connectorDirs = fs
  .readdirSync(path.join(ROOT, "server/connectors"), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => `server/connectors/${e.name}`);

describe("the import graph", () => {
  const edges = importEdges();

  it("is read from the product's files (the check sees the registry's imports of each connector)", () => {
    expect(connectorDirs).toEqual(expect.arrayContaining(["server/connectors/postgresql", "server/connectors/mysql"]));
    for (const dir of ["server/connectors/postgresql", "server/connectors/mysql"]) expect(edges.some((e) => e.from === "server/connectors/registry.ts" && under(e.to, dir)), dir).toBe(true);
  });

  it("has no import into a connector's folder from outside it (but the registry), and none of the forbidden arrows", () => {
    expect(violations(edges, connectorDirs)).toEqual([]);
  });

  it("would name an offending import", () => {
    const bad = [
      { from: "server/pipeline/stream.ts", to: "server/connectors/postgresql/lsn.ts" },
      { from: "server/store/runs.ts", to: "worker/lifecycle.ts" },
      { from: "server/connectors/postgresql/values.ts", to: "server/connectors/mysql/values.ts" },
    ];
    expect(violations(bad, connectorDirs)).toEqual([
      expect.stringMatching(/^server\/pipeline\/stream.ts reaches into/),
      expect.stringMatching(/server\/ never depends/),
      expect.stringMatching(/^server\/connectors\/postgresql\/values.ts reaches into server\/connectors\/mysql/),
    ]);
  });
});
