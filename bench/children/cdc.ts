// Child process of the cdc benchmark: owns a source's stream (lease, real pipeline, real store)
// until a marker context appears in the store, then reports seconds and peak RSS.
//   drain:   time from start until the marker (the last change of the backlog) is durable
//   steady:  run for --seconds while the parent writes; latency is measured from the store after
import os from "node:os";
import { runStream, type StreamCounters } from "../../server/pipeline/stream.ts";
import { withConnector } from "../../server/sources/connectivity.ts";
import { pgPool } from "../../server/db.ts";
import { acquireLease, ensureStream, releaseLease, updateStream } from "../../server/store/streams.ts";
import { memoryPeaks, withMachineBusy } from "../harness.ts";

const [sourceId, markerType, markerId] = process.argv.slice(2) as [string, string, string];
await ensureStream(sourceId);
await updateStream(sourceId, { enabled: true, batch_size: Number(process.env.BENCH_BATCH ?? 1000) });
const token = (await acquireLease(sourceId, `${os.hostname()}:${process.pid}`, 60))!;
const counters: StreamCounters = { read: 0, written: 0, dead_lettered: 0, skipped: 0, transactions: 0, collisions: 0 };
let done = false;
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
let seconds = 0;
const streaming = withConnector(sourceId, (connector) =>
  runStream({ sourceId, connector, token, leaseSeconds: 60, runId: null, counters, shouldExit: () => done, timing: { controlMs: 200 }, onStreaming: () => void process.stdout.write("ready\n") }),
);
streaming.catch((e) => {
  console.error(e);
  process.exit(1);
});
const printMemoryPeaks = memoryPeaks();
// How busy the whole machine was until the marker landed (0..1, all cores).
const { busy } = await withMachineBusy(async () => {
  for (;;) {
    const { rowCount } = await pgPool().query("SELECT 1 FROM contexts WHERE context_type = $1 AND context_id = $2", [markerType, markerId]);
    if (rowCount) {
      seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
});
// The worker's own CPU until the marker landed (user + system seconds).
const cpu = process.cpuUsage(cpu0);
done = true;
await streaming;
await releaseLease(sourceId, token);
printMemoryPeaks();
process.stdout.write(JSON.stringify({ seconds, read: counters.read, written: counters.written, max_rss_mb: process.resourceUsage().maxRSS / 1024, machine_busy: busy, cpu_s: (cpu.user + cpu.system) / 1e6 }) + "\n");
process.exit(0);
