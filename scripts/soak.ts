// `npm run test:soak -- --minutes N [--seed S]`: the chaos soak (test/integration/chaos-soak.test.ts)
// for N minutes on the integration tests' servers; its report (faults injected, writes, time to
// converge) is printed at the end. `npm test` runs the same soak for two minutes.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "10" }, seed: { type: "string" } } });
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60) {
  console.error("--minutes must be a number of minutes between 0 and 1440");
  process.exit(2);
}
const env = { ...process.env, ECM_SOAK_MINUTES: String(minutes), ...(values.seed ? { ECM_SOAK_SEED: values.seed } : {}) };
const result = spawnSync("npx", ["vitest", "run", "--project", "integration", "test/integration/chaos-soak.test.ts"], { env, stdio: "inherit" });
process.exit(result.status ?? 1);
