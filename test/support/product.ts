// Starts the product the way a user does (`npm start`) and stops it with a signal.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";

export type RunningProduct = { url: string; output: () => string; stop: (signal?: NodeJS.Signals) => Promise<void>; child: ChildProcess };

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startProduct(env: Record<string, string | undefined>, timeoutMs = 300_000): Promise<RunningProduct> {
  const port = Number(env.PORT);
  let out = "";
  const cleanEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete cleanEnv[k];
  // Own process group, signalled as a whole the way a terminal's Ctrl-C or a service manager does
  // (npm itself does not forward SIGTERM to the script it runs).
  const child = spawn("npm", ["start"], { env: cleanEnv, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm start exited (${child.exitCode}):\n${out}`);
    try {
      const res = await fetch(`${url}/api/v1/health`);
      if (res.status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`npm start did not become healthy within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  /**
   * Signals the process group. A graceful stop resolves when every process sharing the output has
   * exited; after SIGKILL only npm's own exit is awaited (orphaned children keep the output open).
   */
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* already gone */
    }
    await (signal === "SIGKILL" ? exited : closed);
  };
  return { url, output: () => out, stop, child };
}
