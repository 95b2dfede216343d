// npm run bench <scenario> [-- options]. Scenarios live in bench/scenarios/<name>.ts and export run().
import fs from "node:fs";
import path from "node:path";
import { buildChildren } from "./children.ts";
import { numberArg, report, reportRounds, summarizeRounds, type BenchResult } from "./harness.ts";

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
// `--rounds N`: the whole scenario N times over (each round with its own baseline), then each
// figure's ratios side by side with their median.
const argv = process.argv.slice(3);
const rounds = numberArg(argv, "--rounds", 1);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
  console.error("--rounds takes a whole number from 1 to 20");
  process.exit(64);
}
const args = argv.filter((a, i) => a !== "--rounds" && argv[i - 1] !== "--rounds");
const results: BenchResult[] = [];
fs.mkdirSync("bench/results", { recursive: true });
for (let round = 1; round <= rounds; round++) {
  if (rounds > 1) console.log(`\nround ${round} of ${rounds}`);
  const result = await mod.run(args);
  results.push(result);
  report(result);
}
if (rounds === 1) fs.writeFileSync(`bench/results/${name}.json`, JSON.stringify(results[0], null, 2) + "\n");
else {
  const summary = summarizeRounds(results);
  fs.writeFileSync(`bench/results/${name}.json`, JSON.stringify({ scenario: name, rounds: results, summary }, null, 2) + "\n");
  reportRounds(name, summary, rounds);
}
process.exit(0);
