// npm start: brings up everything the product needs on this machine and runs it.
//   1. PostgreSQL: DATABASE_URL, or an embedded one under ECM_DATA_DIR (wal_level=logical)
//   2. Redis: REDIS_URL, or 127.0.0.1:6379, or a redis-server started under ECM_DATA_DIR
//   3. migrations, the first admin (printed once), the demo source (embedded mode, first start)
//   4. the web console (scripts/web-server.ts: Next.js) and one worker process, each restarted with backoff if it dies
// SIGINT/SIGTERM stop the children, then the servers this script started, in that order.
import crypto from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./lib/embedded-postgres.ts";
import { ensureRedis, evictionPolicy, redactUrl, type RedisHandle } from "./lib/redis-server.ts";
import { loadOrCreateSecretKey, loadState, saveState } from "./lib/data-dir.ts";
import { createDemoDatabase, DEMO_DATABASE, ensureDemoWriterLogin } from "./lib/demo-source.ts";
import { buildWorker, workerNodeArgs } from "../worker/build.ts";
import { isProductChild } from "./lib/product-children.ts";

const dev = process.argv.includes("--dev");
const dataDir = path.resolve(process.env.ECM_DATA_DIR || ".data");
const say = (line: string) => console.log(`[ecm] ${line}`);

let embedded: EmbeddedPostgres | undefined;
let redis: RedisHandle | undefined;
const children = new Map<string, ChildProcess>();
let stopping = false;

async function main() {
  fs.mkdirSync(dataDir, { recursive: true });
  const state = await loadState(dataDir);

  if (!process.env.DATABASE_URL) {
    embedded = await startEmbeddedPostgres({ dir: path.join(dataDir, "pg"), port: state.pgPort, password: state.pgPassword, log: say });
    const admin = embedded.url("postgres");
    await ensureDatabase(admin, "ecm");
    process.env.DATABASE_URL = embedded.url("ecm");
  }
  const userRedis = !!process.env.REDIS_URL;
  redis = await ensureRedis({ url: process.env.REDIS_URL, dataDir, port: state.redisPort, password: state.redisPassword, log: say });
  // ECM_REDIS_DB: a database of its own on a shared local Redis (two installations on one machine).
  const db = process.env.ECM_REDIS_DB;
  process.env.REDIS_URL = !userRedis && db && /^\d{1,2}$/.test(db) ? `${redis.url}/${db}` : redis.url;
  if (!redis.started && !/\/\/[^@/]*:[^@/]+@/.test(redis.url)) {
    say(`warning: the Redis at ${redactUrl(redis.url)} has no requirepass: any local user can read and change the job queues (set one, and REDIS_URL=redis://:<secret>@…)`);
  }
  const policy = await evictionPolicy(redis.url);
  if (policy && policy !== "noeviction") say(`warning: Redis maxmemory-policy is ${policy}; BullMQ needs noeviction or jobs can vanish`);
  process.env.ECM_SECRET_KEY ||= loadOrCreateSecretKey(dataDir);
  process.env.ECM_DATA_DIR = dataDir;
  process.env.NEXT_TELEMETRY_DISABLED = "1";

  // Validate everything once, with messages that name the variable.
  const { parseEnv, EnvError } = await import("../server/env.ts");
  let env;
  try {
    env = parseEnv(process.env);
  } catch (e) {
    if (e instanceof EnvError) {
      console.error(e.message);
      await shutdown(1);
    }
    throw e;
  }
  say(`database ${redactUrl(env.DATABASE_URL)}${embedded ? " (embedded)" : ""}; redis ${redactUrl(env.REDIS_URL)}`);

  const { applyMigrations } = await import("../server/db/migrations.ts");
  const { applied } = await applyMigrations(env.DATABASE_URL);
  if (applied.length) say(`applied migrations: ${applied.join(", ")}`);

  const { ensureFirstAdmin } = await import("../server/auth/users.ts");
  const firstAdmin = await ensureFirstAdmin({ email: process.env.ECM_ADMIN_EMAIL, password: process.env.ECM_ADMIN_PASSWORD });

  if (embedded && !state.demoCreated) {
    await registerDemoSource(embedded);
    state.demoCreated = true;
    saveState(dataDir, state);
  }

  await stopLeftoverChildren();
  // The worker's bundle first: an error in its code stops the start before the console's longer build.
  const workerBundle = await buildWorker();
  if (!dev) await buildIfNeeded();
  startChild("web", process.execPath, ["--import", "tsx", "scripts/web-server.ts", ...(dev ? ["--dev"] : [])], dev ? "development" : "production");
  // The demo writer (worker/demo-writer.ts) writes to the embedded demo database, and only there,
  // with a login of its own (a member of the demo role, never the superuser): its address goes to
  // this worker alone.
  let demoEnv: Record<string, string> = {};
  if (embedded && state.demoCreated) {
    state.demoWriterPassword ??= crypto.randomBytes(18).toString("base64url");
    saveState(dataDir, state);
    demoEnv = { ECM_DEMO_DATABASE_URL: await ensureDemoWriterLogin(embedded.url("postgres"), state.demoWriterPassword) };
  }
  // The worker runs from its bundle (worker/build.ts), rebuilt at every start: under a second.
  startChild("worker", process.execPath, workerNodeArgs(workerBundle), "production", demoEnv);

  const url = env.ECM_BASE_URL ?? `http://localhost:${env.PORT}`;
  say(`ECM Connect is starting at ${url}`);
  if (firstAdmin?.password) {
    say("first start: an admin account was created. Sign in with");
    say(`    email:    ${firstAdmin.email}`);
    say(`    password: ${firstAdmin.password}`);
    say("  (shown once; create more users under Settings)");
  } else {
    say("sign in with your console account (the first admin was printed at first start)");
  }
}

async function ensureDatabase(adminUrl: string, name: string) {
  const pg = (await import("pg")).default;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (!found.rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

async function registerDemoSource(pg: EmbeddedPostgres) {
  const { createSource } = await import("../server/sources/service.ts");
  const { getSourceByName } = await import("../server/store/sources.ts");
  if (await getSourceByName("demo-shop")) return;
  const { user, password } = await createDemoDatabase(pg.url("postgres"));
  const source = await createSource(
    {
      name: "demo-shop",
      config: {
        connector_type: "postgresql",
        connection: { host: "127.0.0.1", port: pg.port, database: DEMO_DATABASE, ssl_mode: "disable" },
        authentication: { type: "credentials", username: user, password },
        options: { batch_size: 1000, change_tracking: "cdc" },
      },
    },
    { isDemo: true },
  );
  say(`created the demo source "demo-shop" (database ${DEMO_DATABASE}: customers, products, orders, order_items)`);
  if ((await import("../server/env.ts")).env().ECM_DEMO_LIVE === "off") return;
  // Mapped, snapshotted and streaming from the first page a newcomer opens (server/demo/live.ts).
  const { makeDemoLive } = await import("../server/demo/live.ts");
  await makeDemoLive(source.id);
  say("the demo is live: mapped, its snapshot queued, its stream started, and a demo writer changing a few rows a second (ECM_DEMO_WRITER=off, or the switch on its page, stops it)");
}

function nextBin() {
  return path.resolve("node_modules/next/dist/bin/next");
}

function newestMtime(p: string): number {
  if (!fs.existsSync(p)) return 0;
  const stat = fs.statSync(p);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...fs.readdirSync(p).map((f) => newestMtime(path.join(p, f))));
}

async function buildIfNeeded() {
  const buildId = path.resolve(".next/BUILD_ID");
  const built = fs.existsSync(buildId) ? fs.statSync(buildId).mtimeMs : 0;
  const inputs = ["app", "components", "server", "generated", "next.config.ts", "package-lock.json", "postcss.config.mjs"];
  if (built && Math.max(...inputs.map(newestMtime)) < built) return;
  say("building the web console (first start or changed sources; takes a minute)…");
  await new Promise<void>((resolve, reject) => {
    const build = spawn(process.execPath, [nextBin(), "build"], {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, NODE_ENV: "production" },
    });
    build.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`next build failed (exit ${code})`))));
  });
}

/**
 * Children of a start that was killed outright (SIGKILL, power loss) keep running in their own
 * process groups and would hold the port: stop them before starting new ones.
 */
const childrenFile = path.join(dataDir, "children.json");
async function stopLeftoverChildren() {
  if (!fs.existsSync(childrenFile)) return;
  const pids = JSON.parse(fs.readFileSync(childrenFile, "utf8")) as number[];
  for (const pid of pids) {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!isProductChild(cmdline)) continue; // the pid was reused by something else
      process.kill(-pid, "SIGTERM");
      say(`stopped a leftover process from an earlier start (pid ${pid})`);
    } catch {
      /* already gone */
    }
  }
  fs.rmSync(childrenFile, { force: true });
}

function recordChildren() {
  fs.writeFileSync(childrenFile, JSON.stringify([...children.values()].map((c) => c.pid)));
}

function startChild(name: string, cmd: string, args: string[], nodeEnv: "production" | "development", extraEnv: Record<string, string> = {}, attempt = 0) {
  if (stopping) return;
  const startedAt = Date.now();
  // Own process group, so a stop reaches every process it starts (next start forks next-server).
  const child = spawn(cmd, args, {
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
    // The worker exits by itself if this supervisor dies without stopping it (see worker/main.ts).
    env: { ...process.env, ...extraEnv, NODE_ENV: nodeEnv, ECM_SUPERVISOR_PID: String(process.pid) },
  });
  children.set(name, child);
  recordChildren();
  child.on("exit", (code, signal) => {
    children.delete(name);
    if (stopping) return;
    const healthy = Date.now() - startedAt > 60_000;
    const next = healthy ? 0 : attempt + 1;
    const delay = Math.min(30_000, 1000 * 2 ** Math.max(0, next - 1));
    say(`${name} exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000}s`);
    setTimeout(() => startChild(name, cmd, args, nodeEnv, extraEnv, next), delay);
  });
}

async function shutdown(code = 0): Promise<never> {
  if (stopping) return new Promise(() => {}) as Promise<never>;
  stopping = true;
  say("stopping…");
  await Promise.all(
    [...children.entries()].map(
      ([name, child]) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            say(`${name} did not stop within 20s; killing it`);
            signalGroup(child, "SIGKILL");
          }, 20_000);
          child.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          signalGroup(child, "SIGTERM");
        }),
    ),
  );
  fs.rmSync(childrenFile, { force: true });
  if (redis?.started) await redis.stop();
  await embedded?.stop();
  say("stopped");
  process.exit(code);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
}

process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

main().catch(async (e) => {
  console.error(`[ecm] start failed: ${e instanceof Error ? e.message : String(e)}`);
  await shutdown(1);
});
