// Finds a Redis for the product: REDIS_URL, else 127.0.0.1:6379 if it answers, else a
// redis-server from PATH started under the data dir (with the settings BullMQ needs).
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Redis } from "ioredis";

export type RedisHandle = { url: string; started: boolean; stop(): Promise<void> };

async function ping(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1500, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export async function evictionPolicy(url: string): Promise<string | null> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  try {
    const reply = (await redis.config("GET", "maxmemory-policy")) as string[];
    return reply[1] ?? null;
  } catch {
    return null; // CONFIG may be disabled on managed Redis
  } finally {
    redis.disconnect();
  }
}

/**
 * REDIS_URL, else the machine's Redis on 6379, else a redis-server started under the data dir.
 * One it starts requires `password` (AUTH), set through a config file only this user can read,
 * never on the command line where `ps` would show it.
 */
export async function ensureRedis(opts: { url?: string; dataDir: string; port: number; password?: string; log: (s: string) => void; useLocal?: boolean }): Promise<RedisHandle> {
  const noop = async () => {};
  if (opts.url) {
    if (!(await ping(opts.url))) throw new Error(`REDIS_URL does not answer (${redactUrl(opts.url)}); start that Redis or unset REDIS_URL`);
    return { url: opts.url, started: false, stop: noop };
  }
  const local = "redis://127.0.0.1:6379";
  if (opts.useLocal !== false && (await ping(local))) return { url: local, started: false, stop: noop };

  let binary: string;
  try {
    binary = execFileSync("sh", ["-c", "command -v redis-server"]).toString().trim();
  } catch {
    throw new Error(
      "No Redis found: REDIS_URL is unset, nothing answers on 127.0.0.1:6379 and redis-server is not installed.\n" +
        "  Install one (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) or set REDIS_URL.",
    );
  }
  const dir = path.resolve(opts.dataDir, "redis");
  fs.mkdirSync(dir, { recursive: true });
  const url = opts.password ? `redis://:${encodeURIComponent(opts.password)}@127.0.0.1:${opts.port}` : `redis://127.0.0.1:${opts.port}`;
  if (await ping(url)) {
    opts.log(`reusing the redis-server already running on port ${opts.port}`);
    return { url, started: true, stop: () => shutdown(url) };
  }
  const open = `redis://127.0.0.1:${opts.port}`;
  if (opts.password && (await ping(open))) {
    // Left running by an earlier version without a password: restart it with one.
    opts.log(`restarting the redis-server on port ${opts.port} with a password`);
    await shutdown(open);
    for (let i = 0; i < 50 && (await ping(open)); i++) await new Promise((r) => setTimeout(r, 100));
  }
  const conf = path.join(dir, "redis.conf");
  fs.rmSync(conf, { force: true });
  const fd = fs.openSync(conf, "wx", 0o600);
  fs.writeSync(fd, opts.password ? `requirepass "${opts.password}"\n` : "");
  fs.closeSync(fd);
  const child = spawn(
    binary,
    [conf, "--port", String(opts.port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--save", "", "--maxmemory-policy", "noeviction", "--daemonize", "no"],
    { stdio: "ignore", detached: true },
  );
  child.unref();
  for (let i = 0; i < 100 && !(await ping(url)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await ping(url))) throw new Error(`started ${binary} on port ${opts.port} but it does not answer`);
  opts.log(`started redis-server on 127.0.0.1:${opts.port} (data in ${dir})`);
  return { url, started: true, stop: () => shutdown(url) };
}

async function shutdown(url: string) {
  const redis = new Redis(url, { maxRetriesPerRequest: 0 });
  redis.on("error", () => {});
  await redis.call("SHUTDOWN").catch(() => {});
  redis.disconnect();
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
