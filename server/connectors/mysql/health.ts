// healthCheck for MySQL and MariaDB: named checks, each pass / warn / fail with a hint a user can
// act on. What change capture from the binlog needs: log_bin, binlog_format ROW, binlog_row_image
// FULL, binlog_row_metadata FULL (column names in the log itself), REPLICATION SLAVE and
// REPLICATION CLIENT (BINLOG MONITOR on MariaDB), binlogs kept long enough to resume, and no MySQL
// transaction compression (the reader cannot decode it).
import { openTransactions } from "./incremental.ts";
import { cursorIndexCheck, lagCheck } from "../incremental.ts";
import type mysql from "mysql2/promise";
import { AppError } from "../../errors/app-error.ts";
import { classify } from "../../errors/classify.ts";
import { isLoopback } from "../loopback.ts";
import { overallHealth, type HealthCheck, type HealthStatus } from "../types.ts";
import { textRows } from "./catalog.ts";
import type { TMysqlConfig } from "./config.ts";
import { fail, pass, warn } from "../checks.ts";
import { verifiedTls } from "../config-parts.ts";
import { connect, PasswordRefusedError, type ConnectPolicies } from "./connection.ts";


/** The server's flavour and version, from VERSION() (`10.11.6-MariaDB-0+deb12u1`, `8.4.3`). */
export function serverFlavour(version: string): { mariadb: boolean; major: number; minor: number } {
  const [major, minor] = version.split(/[.-]/).map(Number);
  return { mariadb: /mariadb/i.test(version), major: major ?? 0, minor: minor ?? 0 };
}

/** What went wrong while connecting, as the check a user would look at. */
export function connectFailure(error: unknown, config: TMysqlConfig): HealthCheck {
  const e = error as { code?: string; message?: string };
  const { host, port, database } = config.connection;
  const user = config.authentication.username;
  if (error instanceof PasswordRefusedError) return fail("authenticated", error.message, "set ssl_mode verify-full (NODE_EXTRA_CA_CERTS for a private CA)");
  if (error instanceof AppError) {
    return error.issues?.some((i) => i.path.includes("password"))
      ? fail("authenticated", error.message, "fix the password reference, or the operator's secret policy")
      : fail("reachable", error.message, "use a host the source host policy allows");
  }
  switch (e.code) {
    case "ER_ACCESS_DENIED_ERROR":
    case "ER_NOT_SUPPORTED_AUTH_MODE":
    case "AUTH_SWITCH_PLUGIN_ERROR":
      return fail("authenticated", `the server refused user ${user}`, "check the username and the password (or the secret it references), and that the user may connect from this host");
    case "ER_BAD_DB_ERROR":
      return fail("database_exists", `database "${database}" does not exist`, `check the name, or create it: CREATE DATABASE \`${database}\``);
    case "ER_DBACCESS_DENIED_ERROR":
      return fail("database_exists", `user ${user} may not use database "${database}"`, `GRANT SELECT ON \`${database}\`.* TO the user`);
    case "ER_CON_COUNT_ERROR":
      return fail("reachable", "the server has no free connections", "raise max_connections or close idle connections");
    case "HANDSHAKE_SSL_ERROR":
    case "HANDSHAKE_NO_SSL_SUPPORT":
      return fail("tls", `TLS failed: ${e.message}`, "enable TLS on the server, or use ssl_mode prefer; for verify-ca / verify-full trust the server's CA (ssl_root_cert, NODE_EXTRA_CA_CERTS)");
  }
  if (/SSL|certificate|self.signed/i.test(e.message ?? "")) return fail("tls", `TLS failed: ${e.message}`, "for verify-ca / verify-full trust the server's CA (ssl_root_cert or NODE_EXTRA_CA_CERTS); or use ssl_mode require");
  return fail("reachable", `could not connect to ${host}:${port}`, "check host, port, firewalls and that the server listens on that address");
}

const CONNECT_CODES = new Set(["ER_ACCESS_DENIED_ERROR", "ER_BAD_DB_ERROR", "ER_DBACCESS_DENIED_ERROR", "ER_CON_COUNT_ERROR", "HANDSHAKE_SSL_ERROR", "HANDSHAKE_NO_SSL_SUPPORT"]);

/** A failure to connect as the pipeline and the API see it: the health check's message and hint, in its category. */
export function connectError(error: unknown, config: TMysqlConfig): unknown {
  if (error instanceof AppError) return error;
  const c = classify(error);
  const code = (error as { code?: string }).code;
  if (!((code && CONNECT_CODES.has(code)) || c.category === "TRANSIENT")) return error;
  const check = connectFailure(error, config);
  return new AppError(c.category === "TRANSIENT" ? "SERVICE_UNAVAILABLE" : "BAD_REQUEST", `${check.message}; ${check.hint ?? ""}`, { category: c.category === "FATAL" ? "CONFIGURATION" : c.category, cause: error });
}

export async function healthCheck(config: TMysqlConfig, tables: string[], policies: ConnectPolicies = {}, cursors: { table: string; cursor: string[] }[] = []): Promise<HealthStatus> {
  let c: mysql.Connection;
  try {
    c = await connect(config, policies);
  } catch (error) {
    const checks = [connectFailure(error, config)];
    return { status: overallHealth(checks), checks };
  }
  try {
    let checks = await checksAfterConnect(c, config, tables);
    // A source kept by incremental runs reads no binlog: what change capture needs is not its concern.
    if (config.options.change_tracking === "incremental") checks = [...checks.filter((k) => !CAPTURE_CHECKS.has(k.name)), ...(await incrementalChecks(c, config, cursors))];
    return { status: overallHealth(checks), checks };
  } finally {
    await c.end().catch(() => {});
  }
}

function tlsCheck(config: TMysqlConfig, address: string): HealthCheck {
  const mode = config.connection.ssl_mode;
  if (verifiedTls(config.connection)) return pass("tls", `TLS, certificate verified (${mode})`);
  if (isLoopback(address)) return pass("tls", `on this machine (ssl_mode ${mode})`);
  return warn(
    "tls",
    `the connection is not verified (ssl_mode ${mode}): whoever answers at ${config.connection.host} is trusted with what is read; a request for the password in clear is refused (challenge-response only)`,
    "set ssl_mode verify-full; for a private CA give its certificate in ssl_root_cert or NODE_EXTRA_CA_CERTS",
  );
}

/** Server variables by name (missing ones are absent: older servers lack some). */
async function variables(c: mysql.Connection, names: string[]): Promise<Map<string, string>> {
  const rows = await textRows(c, `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${names.map(() => "?").join(", ")})`, names);
  return new Map(rows.map((r) => [r.Variable_name!, r.Value ?? ""]));
}

/** The privileges granted on *.* (SHOW GRANTS), upper case. */
async function globalPrivileges(c: mysql.Connection): Promise<Set<string>> {
  const grants = (await textRows(c, "SHOW GRANTS FOR CURRENT_USER()")).map((r) => Object.values(r)[0] ?? "");
  const out = new Set<string>();
  for (const g of grants) {
    const m = /^GRANT (.+?) ON \*\.\* TO /i.exec(g);
    if (m) for (const p of m[1]!.split(",")) out.add(p.trim().toUpperCase());
  }
  return out;
}

async function checksAfterConnect(c: mysql.Connection, config: TMysqlConfig, mapped: string[]): Promise<HealthCheck[]> {
  const cdc = config.options.change_tracking === "cdc";
  const user = config.authentication.username;
  const need = (name: string, message: string, hint: string) => (cdc ? fail(name, message, hint) : warn(name, message, hint));
  const address = (c as unknown as { config: { host: string } }).config.host;
  const checks: HealthCheck[] = [
    pass("reachable", `connected to ${config.connection.host}:${config.connection.port}`),
    pass("authenticated", `signed in as ${user}`),
    pass("database_exists", `database "${config.connection.database}" is open`),
    tlsCheck(config, address),
  ];
  const [{ version }] = (await textRows(c, "SELECT VERSION() AS version")) as [{ version: string }];
  const flavour = serverFlavour(version);
  const supported = flavour.mariadb ? flavour.major > 10 || (flavour.major === 10 && flavour.minor >= 6) : flavour.major >= 8;
  checks.push(
    supported
      ? pass("server_version", `${flavour.mariadb ? "MariaDB" : "MySQL"} ${version}`)
      : fail("server_version", `${flavour.mariadb ? "MariaDB" : "MySQL"} ${version} is older than ${flavour.mariadb ? "10.6" : "8.0"}`, "upgrade the server"),
  );
  const v = await variables(c, ["log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "binlog_expire_logs_seconds", "expire_logs_days", "binlog_transaction_compression", "gtid_mode"]);
  const on = (name: string) => ["ON", "1"].includes((v.get(name) ?? "").toUpperCase());
  checks.push(on("log_bin") ? pass("log_bin", "the binary log is on") : need("log_bin", "the binary log is off: changes cannot be captured", "start the server with log_bin (and server_id), e.g. log_bin=mysql-bin in my.cnf, then restart"));
  const setting = (name: string, want: string, hint: string) => {
    const value = v.get(name);
    if (value === undefined) return; // a server without the setting
    checks.push(value.toUpperCase() === want ? pass(name, `${name} is ${want}`) : need(name, `${name} is ${value}; change data capture needs ${want}`, hint));
  };
  setting("binlog_format", "ROW", "SET GLOBAL binlog_format = 'ROW' (and binlog_format=ROW in my.cnf)");
  setting("binlog_row_image", "FULL", "SET GLOBAL binlog_row_image = 'FULL' (and in my.cnf): updates and deletes must carry the whole row");
  setting("binlog_row_metadata", "FULL", "SET GLOBAL binlog_row_metadata = 'FULL' (and in my.cnf): the binlog then names its columns, so changes logged before an ALTER are read right");
  if (on("binlog_transaction_compression")) {
    checks.push(need("binlog_compression", "binlog_transaction_compression is ON: compressed transactions cannot be read", "SET GLOBAL binlog_transaction_compression = OFF"));
  }
  const seconds = Number(v.get("binlog_expire_logs_seconds") ?? 0) || Number(v.get("expire_logs_days") ?? 0) * 86_400;
  checks.push(
    seconds === 0 || seconds >= 86_400
      ? pass("binlog_retention", seconds === 0 ? "binlogs are kept until purged by hand" : `binlogs are kept ${Math.round(seconds / 3600)} h`)
      : warn("binlog_retention", `binlogs are kept only ${Math.round(seconds / 60)} min: a stream stopped longer cannot resume`, "SET GLOBAL binlog_expire_logs_seconds = 604800 (a week)"),
  );

  const privileges = await globalPrivileges(c);
  const all = privileges.has("ALL PRIVILEGES");
  const slave = all || privileges.has("REPLICATION SLAVE") || privileges.has("REPLICATION REPLICA");
  const client = all || privileges.has("REPLICATION CLIENT") || privileges.has("BINLOG MONITOR") || privileges.has("SUPER");
  checks.push(
    slave && client
      ? pass("replication_privilege", `${user} may read the binlog`)
      : need(
          "replication_privilege",
          `${user} lacks ${[!slave && "REPLICATION SLAVE", !client && (flavour.mariadb ? "BINLOG MONITOR" : "REPLICATION CLIENT")].filter(Boolean).join(" and ")}`,
          `GRANT REPLICATION SLAVE, ${flavour.mariadb ? "BINLOG MONITOR" : "REPLICATION CLIENT"} ON *.* TO the user`,
        ),
  );

  const database = config.connection.database;
  const visible = (await textRows(c, "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", [database])).map((r) => r.name!);
  const tables = mapped.length ? mapped : visible;
  const denied: string[] = [];
  for (const t of tables) {
    if (!visible.includes(t)) {
      denied.push(t);
      continue;
    }
    try {
      await c.query({ sql: `SELECT 1 FROM \`${database.replaceAll("`", "``")}\`.\`${t.replaceAll("`", "``")}\` LIMIT 0` });
    } catch {
      denied.push(t);
    }
  }
  checks.push(
    denied.length === 0
      ? pass("select_privilege", `SELECT granted on ${tables.length} table${tables.length === 1 ? "" : "s"}`)
      : (mapped.length ? fail : warn)("select_privilege", `${user} cannot read ${denied.slice(0, 5).join(", ")}${denied.length > 5 ? ` and ${denied.length - 5} more` : ""}`, `GRANT SELECT ON \`${database}\`.* TO the user`),
  );
  return checks;
}

const CAPTURE_CHECKS = new Set(["log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "binlog_retention", "binlog_compression", "replication_privilege"]);

/** Incremental sync (docs/incremental.md): whether the lag can follow open transactions, and an index on each cursor. */
async function incrementalChecks(c: mysql.Connection, config: TMysqlConfig, cursors: { table: string; cursor: string[] }[]): Promise<HealthCheck[]> {
  const open = await openTransactions(c);
  const checks = [
    lagCheck(
      open,
      open.hidden?.includes("read-only")
        ? "set options.incremental.lag_seconds above the primary's longest transaction plus the replica's delay"
        : `GRANT PROCESS ON *.* TO ${config.authentication.username}, or set options.incremental.lag_seconds`,
      config.options.incremental?.lag_seconds,
    ),
  ];
  const unindexed: { table: string; column: string }[] = [];
  for (const { table, cursor } of cursors) {
    const rows = await textRows(c, "SELECT 1 AS found FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND SEQ_IN_INDEX = 1 AND COLUMN_NAME = ? LIMIT 1", [config.connection.database, table, cursor[0]!]);
    if (!rows.length) unindexed.push({ table, column: cursor[0]! });
  }
  const q = (id: string) => `\`${id.replaceAll("`", "``")}\``;
  if (cursors.length) checks.push(cursorIndexCheck(cursors.length, unindexed, (u) => `CREATE INDEX ${q(`${u.column}_idx`)} ON ${q(u.table)} (${q(u.column)})`));
  return checks;
}
