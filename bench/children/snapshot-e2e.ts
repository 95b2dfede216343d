// Child process of the snapshot-e2e benchmark: one full snapshot of a source through its mapping
// into the context store (chunk checkpoints included); reports rows, seconds and peak RSS.
import { runSnapshot } from "../../server/pipeline/snapshot.ts";

const [sourceId, batch] = process.argv.slice(2) as [string, string];
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
const result = await runSnapshot(sourceId, { batchSize: Number(batch) });
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
// The worker's own CPU over the snapshot: which side of the pipeline is busy (a worker near one core is the bound).
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({ rows: result.read, written: result.written, errors: result.errors.length, seconds, max_rss_mb: process.resourceUsage().maxRSS / 1024, cpu_user_s: cpu.user / 1e6, cpu_system_s: cpu.system / 1e6 }) + "\n");
process.exit(0);
