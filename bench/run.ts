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
if (!name || !scenarios.includes(name)) usage(`scenarios: ${scenarios.join(", ")}`);
// `--rounds N`: the whole scenario N times over, each round a fresh process of its own (as one run
// is: the product's modules hold state) with its own baseline, then each figure's ratios side by
// side with their median. Each round's result is kept in a file of its own as it ends, so a round
// that fails loses nothing before it.
const CHILDREN_BUILT = "--children-built"; // what the rounds pass their own runs: built once, by them
const argv = process.argv.slice(3);
if (argv.some((a) => a.startsWith("--rounds="))) usage("write --rounds N (a space, not =)");
if (argv.filter((a) => a === "--rounds").length > 1) usage("--rounds is given twice");
const rounds = numberArg(argv, "--rounds", 1);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) usage("--rounds takes a whole number from 1 to 20");
const args = argv.filter((a, i) => a !== "--rounds" && argv[i - 1] !== "--rounds" && a !== CHILDREN_BUILT);
const resultFile = `bench/results/${name}.json`;
fs.mkdirSync("bench/results", { recursive: true });
// The children run as worker processes do: from bundles (worker/build.ts), built once.
if (!argv.includes(CHILDREN_BUILT)) await buildChildren();

if (rounds === 1) {
  const mod = (await import(`./scenarios/${name}.ts`)) as { run: (args: string[]) => Promise<BenchResult> };
  const result = await mod.run(args);
  fs.writeFileSync(resultFile, JSON.stringify(result, null, 2) + "\n");
  report(result);
  process.exit(0);
}

const results: BenchResult[] = [];
let failed: string | null = null;
for (let round = 1; round <= rounds && !failed; round++) {
  console.log(`\nround ${round} of ${rounds}`);
  fs.rmSync(resultFile, { force: true });
  const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, name, ...args, CHILDREN_BUILT], { stdio: "inherit" });
  if (child.status === 0 && fs.existsSync(resultFile)) {
    results.push(JSON.parse(fs.readFileSync(resultFile, "utf8")) as BenchResult);
    fs.renameSync(resultFile, `bench/results/${name}.round-${round}.json`);
  } else failed = `round ${round} failed (${child.error?.message ?? child.signal ?? `exit code ${child.status}`})`;
}
if (results.length) {
  const summary = summarizeRounds(results);
  // Every round's result, then the summary; the printed line is the summary.
  fs.writeFileSync(`bench/results/${name}.rounds.json`, JSON.stringify({ scenario: name, rounds: results.length, summary, results }, null, 2) + "\n");
  reportRounds(name, summary, results.length);
}
if (failed) {
  console.error(`${failed}; ${results.length} round(s) before it are summarised above and kept in bench/results/${name}.round-N.json`);
  process.exit(1);
}
process.exit(0);

function usage(message: string): never {
  console.error(`usage: npm run bench <scenario> [-- --rounds N] [scenario options]\n${message}`);
  process.exit(64);
}
