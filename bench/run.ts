// npm run bench <scenario> [-- options]. Scenarios live in bench/scenarios/<name>.ts and export run().
import { spawnSync } from "node:child_process";
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
// `--rounds N`: the whole scenario N times over, each round a fresh process of its own (as one run
// is: the product's modules hold state) with its own baseline, then each figure's ratios side by
// side with their median.
const argv = process.argv.slice(3);
const rounds = numberArg(argv, "--rounds", 1);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
  console.error("--rounds takes a whole number from 1 to 20");
  process.exit(64);
}
const args = argv.filter((a, i) => a !== "--rounds" && argv[i - 1] !== "--rounds");
const resultFile = `bench/results/${name}.json`;
fs.mkdirSync("bench/results", { recursive: true });
// The children run as worker processes do: from bundles (worker/build.ts), built once.
if (!process.env.BENCH_CHILDREN_BUILT) await buildChildren();

if (rounds === 1) {
  const mod = (await import(`./scenarios/${name}.ts`)) as { run: (args: string[]) => Promise<BenchResult> };
  const result = await mod.run(args);
  fs.writeFileSync(resultFile, JSON.stringify(result, null, 2) + "\n");
  report(result);
  process.exit(0);
}

const results: BenchResult[] = [];
for (let round = 1; round <= rounds; round++) {
  console.log(`\nround ${round} of ${rounds}`);
  fs.rmSync(resultFile, { force: true });
  const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, name, ...args], { stdio: "inherit", env: { ...process.env, BENCH_CHILDREN_BUILT: "1" } });
  if (child.status !== 0) {
    console.error(`round ${round} failed (${child.signal ?? `exit code ${child.status}`})`);
    process.exit(1);
  }
  results.push(JSON.parse(fs.readFileSync(resultFile, "utf8")) as BenchResult);
}
const summary = summarizeRounds(results);
fs.writeFileSync(resultFile, JSON.stringify({ scenario: name, rounds: results, summary }, null, 2) + "\n");
reportRounds(name, summary, rounds);
process.exit(0);
