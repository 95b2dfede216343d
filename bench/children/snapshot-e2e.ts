// Child process of the snapshot-e2e benchmark: one full snapshot of a source through its mapping
// into the context store (chunk checkpoints included), or one entity of it (a worker's part of a
// run, whose capture the caller prepared before); reports rows, seconds, peak RSS, its own CPU and how
// busy the whole machine was meanwhile.
import { runSnapshot } from "../../server/pipeline/snapshot.ts";
import { memoryPeaks, withMachineBusy } from "../harness.ts";

const [sourceId, batch, entity] = process.argv.slice(2) as [string, string, string | undefined];
const printMemoryPeaks = memoryPeaks();
const startedAt = Date.now();
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
const { result, busy } = await withMachineBusy(() => runSnapshot(sourceId, { batchSize: Number(batch), ...(entity ? { entities: [entity] } : {}) }));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
// The worker's own CPU over the snapshot: which side of the pipeline is busy (a worker near one core is the bound).
const cpu = process.cpuUsage(cpu0);
printMemoryPeaks();
process.stdout.write(
  JSON.stringify({
    rows: result.read,
    written: result.written,
    errors: result.errors.length,
    seconds,
    started_at_ms: startedAt,
    ended_at_ms: Date.now(),
    max_rss_mb: process.resourceUsage().maxRSS / 1024,
    cpu_user_s: cpu.user / 1e6,
    cpu_system_s: cpu.system / 1e6,
    machine_busy: busy,
  }) + "\n",
);
process.exit(0);
