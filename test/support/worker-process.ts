// Real worker processes for tests that signal them (SIGKILL, SIGTERM, SIGSTOP): the worker's
// bundle as `npm run worker` starts it (worker/build.ts: the same bundle and flags), with short
// leases and ticks, its log lines kept for assertions.
import { spawn, type ChildProcess } from "node:child_process";
import { workerNodeArgs } from "../../worker/build.ts";
import fs from "node:fs";

export type WorkerProcess = {
  child: ChildProcess;
  pid: number;
  /** Its log so far (the product logs JSON lines on stderr; warn and above unless `env` says otherwise). */
  output: () => string;
  /** Resolves with the exit code and signal once it exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

const running = new Set<ChildProcess>();

export function spawnWorker(env: Record<string, string> = {}): WorkerProcess {
  const child = spawn(process.execPath, workerNodeArgs(), {
    env: { ...process.env, ECM_STREAM_LEASE_SECONDS: "4", ECM_SUPERVISOR_MS: "500", ECM_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let log = "";
  for (const [from, to] of [
    [child.stdout!, process.stdout],
    [child.stderr!, process.stderr],
  ] as const) {
    from.on("data", (d: Buffer) => {
      log = (log + d.toString()).slice(-200_000);
      to.write(d);
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, pid: child.pid!, output: () => log, exited };
}

/** Kills every worker a test started and has not seen exit (afterAll). */
export function killWorkers() {
  for (const c of running) {
    c.kill("SIGCONT");
    c.kill("SIGKILL");
  }
}

/** A live process's peak resident set so far, in MiB (Linux: VmHWM). */
export function peakRssMiB(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmHWM:"));
  return Number(line?.match(/(\d+)/)?.[1] ?? NaN) / 1024;
}
