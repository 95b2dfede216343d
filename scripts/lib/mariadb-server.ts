// A MariaDB server of its own, for tests and benchmarks of the MySQL connector: Debian's mariadbd
// started in a directory under .data with the binlog settings change data capture needs
// (log_bin, binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL, a server_id).
// The machine's own MariaDB (if any) runs without a binlog and is never touched.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import mysql from "mysql2/promise";

export type MariadbServer = {
  port: number;
  /** root over TCP, with `password`. */
  url(database?: string): string;
  password: string;
  stop(): Promise<void>;
};

function binary(name: string): string {
  for (const dir of ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  throw new Error(`${name} not found: install MariaDB (Debian/Ubuntu: sudo apt-get install -y mariadb-server)`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function answers(port: number, password: string): Promise<boolean> {
  try {
    const c = await mysql.createConnection({ host: "127.0.0.1", port, user: "root", password, connectTimeout: 1000 });
    await c.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts (or reuses, when it already answers on `port`) a MariaDB under `dir` with root's password
 * set to `password` (root is reached over TCP only; the socket stays in `dir`).
 */
export async function startMariadb(opts: { dir: string; port: number; serverId: number; password: string; log?: (s: string) => void }): Promise<MariadbServer> {
  const { dir, password } = opts;
  // Port 0: a free one (a server left on a fixed port by an interrupted run cannot get in the way).
  const port = opts.port || (await freePort());
  const url = (database = "") => `mysql://root:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  let child: ChildProcess | null = null;
  const handle = (): MariadbServer => ({
    port,
    password,
    url,
    async stop() {
      const pid = child?.pid;
      if (!pid || !alive(pid)) return;
      process.kill(pid, "SIGTERM");
      // Polled, not awaited as an event: the child is not waited on (unref), so its exit may not be seen.
      for (let i = 0; i < 150 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      if (alive(pid)) process.kill(pid, "SIGKILL");
    },
  });
  if (await answers(port, password)) return handle();

  const data = path.join(dir, "data");
  const root = process.getuid?.() === 0;
  // A server an interrupted run left on this data directory (on another port) holds its lock: end it.
  const pidFile = path.join(dir, "pid");
  const leftover = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8").trim()) : 0;
  const ours = (pid: number) => {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      return cmdline.includes("mariadbd") && cmdline.includes(data);
    } catch {
      return false;
    }
  };
  if (leftover && alive(leftover) && ours(leftover)) {
    opts.log?.(`stopping the mariadbd (pid ${leftover}) an earlier run left on ${dir}`);
    process.kill(leftover, "SIGTERM");
    for (let i = 0; i < 150 && alive(leftover); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive(leftover)) process.kill(leftover, "SIGKILL");
  }
  fs.mkdirSync(dir, { recursive: true });
  // mariadbd refuses to run as root: as root it runs as the mysql user, which must own the directory.
  const chown = () => root && execFileSync("chown", ["-R", "mysql:mysql", dir]);
  const socket = path.join(dir, "sock");
  const ready = path.join(dir, "root-password-set");
  const fresh = !fs.existsSync(ready);
  if (fresh) {
    fs.rmSync(data, { recursive: true, force: true });
    chown();
    execFileSync(binary("mariadb-install-db"), [...(root ? ["--user=mysql"] : []), `--datadir=${data}`, "--auth-root-authentication-method=normal", "--skip-test-db"], { stdio: "ignore" });
  }
  chown();
  const logFile = path.join(dir, "mariadbd.log");
  const logFd = fs.openSync(logFile, "a");
  child = spawn(
    binary("mariadbd"),
    [
      "--no-defaults",
      ...(root ? ["--user=mysql"] : []),
      `--datadir=${data}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--socket=${socket}`,
      `--pid-file=${path.join(dir, "pid")}`,
      "--log-bin=mysql-bin",
      "--binlog-format=ROW",
      "--binlog-row-image=FULL",
      "--binlog-row-metadata=FULL",
      `--server-id=${opts.serverId}`,
      "--character-set-server=utf8mb4",
      "--collation-server=utf8mb4_bin",
      "--max-connections=500",
      "--innodb-buffer-pool-size=256M",
      "--innodb-flush-log-at-trx-commit=2",
      "--sync-binlog=0",
      "--skip-name-resolve",
    ],
    // Its log goes to a file, and the child is not waited on: a test run or a benchmark ends when its
    // work does, not when the server's output closes (stop() ends the server).
    { stdio: ["ignore", logFd, logFd] },
  );
  child.unref();
  fs.closeSync(logFd);
  const stderr = () => fs.readFileSync(logFile, "utf8").slice(-4000);
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`mariadbd exited (${child.exitCode}): ${stderr()}`);
    // A fresh server's root has no password yet and is reached over the socket only: give it one,
    // over TCP too (the marker says it was done).
    if (!fs.existsSync(ready) && fs.existsSync(socket)) {
      const c = await mysql.createConnection({ socketPath: socket, user: "root", password: "" }).catch(() => null);
      if (c) {
        await c.query("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'");
        await c.query("ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY ?", [password]);
        await c.query("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
        await c.query("ALTER USER 'root'@'localhost' IDENTIFIED BY ?", [password]);
        await c.end();
        fs.writeFileSync(ready, "");
      }
    }
    if (await answers(port, password)) {
      opts.log?.(`mariadbd on port ${port} (${dir})`);
      return handle();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`mariadbd did not answer on port ${port}: ${stderr()}`);
}
