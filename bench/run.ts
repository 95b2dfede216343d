// npm run bench <scenario> [-- options]. Scenarios live in bench/scenarios/<name>.ts and export run().
import fs from "node:fs";
import path from "node:path";
import { buildChildren } from "./children.ts";
import { report, type BenchResult } from "./harness.ts";

const scenarios = fs
  .readdirSync(path.resolve("bench/scenarios"))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.replace(/\.ts$/, ""));
const name = process.argv[2];
if (!name || !scenarios.includes(name)) {
  console.error(`usage: npm run bench <scenario>\nscenarios: ${scenarios.join(", ")}`);
  process.exit(64);
}
// The children run as worker processes do: from bundles (worker/build.ts), built now.
await buildChildren();
const mod = (await import(`./scenarios/${name}.ts`)) as { run: (args: string[]) => Promise<BenchResult> };
const result = await mod.run(process.argv.slice(3));
fs.mkdirSync("bench/results", { recursive: true });
fs.writeFileSync(`bench/results/${name}.json`, JSON.stringify(result, null, 2) + "\n");
report(result);
process.exit(0);
