// healthCheck: named checks, each pass / warn / fail with a hint a user can act on. A check that
// cannot run because an earlier one failed is not listed; the failing one says what to fix.
import type pg from "pg";
import { openTransactions } from "./incremental.ts";
import { cursorIndexCheck, lagCheck } from "../incremental.ts";
import { AppError } from "../../errors/app-error.ts";
import { classify } from "../../errors/classify.ts";
import { overallHealth, type HealthCheck, type HealthStatus } from "../types.ts";
import type { TPostgresConfig } from "./config.ts";
import { fail, pass, warn } from "../checks.ts";
import { verifiedTls } from "../config-parts.ts";
import { connect, isLoopback, PasswordRefusedError, type ConnectPolicies } from "./connection.ts";

export const MIN_SERVER_VERSION = 120000;


/** What went wrong while connecting, as the check a user would look at. Never reveals more than needed. */
export function connectFailure(error: unknown, config: TPostgresConfig): HealthCheck {
  const e = error as { code?: string; message?: string };
  const { host, port, database } = config.connection;
  const user = config.authentication.username;
  if (error instanceof PasswordRefusedError) return fail("authenticated", error.message, "set ssl_mode verify-full (NODE_EXTRA_CA_CERTS for a private CA), or have the server use SCRAM");
  if (error instanceof AppError) {
    const secretProblem = error.issues?.some((i) => i.path.includes("password"));
    return secretProblem
      ? fail("authenticated", error.message, "fix the password reference, or the operator's secret policy")
      : fail("reachable", error.message, "use a host the source host policy allows");
  }
  switch (e.code) {
    case "28P01":
      return fail("authenticated", `password authentication failed for user ${user}`, "check the username and the password (or the secret it references)");
    case "28000":
      return fail("authenticated", `the server refused user ${user}: ${e.message}`, `allow ${user} in pg_hba.conf, or check the role exists and may log in`);
    case "3D000":
      return fail("database_exists", `database "${database}" does not exist`, `check the name, or create it: CREATE DATABASE "${database}"`);
    case "53300":
      return fail("reachable", "the server has no free connection slots", "raise max_connections or close idle connections");
    case "57P03":
      return fail("reachable", "the server is starting up or shutting down", "retry in a moment");
  }
  if (/SSL|certificate|self.signed/i.test(e.message ?? "")) {
    return fail("tls", `TLS failed: ${e.message}`, "for verify-ca / verify-full trust the server's CA (NODE_EXTRA_CA_CERTS); or use ssl_mode require");
  }
  return fail("reachable", `could not connect to ${host}:${port}`, "check host, port, firewalls and that PostgreSQL listens on that address");
}

/** Connect failures whose health check says what to do (by SQLSTATE); network and TLS failures too. */
const CONNECT_CODES = new Set(["28P01", "28000", "3D000", "53300", "57P03"]);

/**
 * A failure to connect as the pipeline and the API see it: for the failures the health check
 * knows (password, database, TLS, the server away or full), its message and hint, in the category
 * classify() gives them; anything else (a secret or host-policy refusal, which carry their own
 * category; an unexpected error) is thrown as it is, for classify() to judge.
 */
export function connectError(error: unknown, config: TPostgresConfig): unknown {
  if (error instanceof AppError) return error;
  const c = classify(error);
  if (!((c.code && CONNECT_CODES.has(c.code)) || c.reason === "network error" || c.reason === "TLS")) return error;
  const check = connectFailure(error, config);
  return new AppError(c.category === "TRANSIENT" ? "SERVICE_UNAVAILABLE" : "BAD_REQUEST", `${check.message}; ${check.hint ?? ""}`, { category: c.category, cause: error });
}

export type HealthContext = { publication: string; slot: string; tables: string[]; cursors: { table: string; cursor: string[] }[] };

export async function healthCheck(config: TPostgresConfig, context: HealthContext, policies: ConnectPolicies = {}): Promise<HealthStatus> {
  let client: pg.Client;
  try {
    client = await connect(config, policies);
  } catch (error) {
    const checks = [connectFailure(error, config)];
    return { status: overallHealth(checks), checks };
  }
  try {
    const checks = await checksAfterConnect(client, config, context);
    return { status: overallHealth(checks), checks };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Whether the channel is verified TLS; a warning (not a failure) when it is not and leaves the machine. */
function tlsCheck(client: pg.Client, config: TPostgresConfig): HealthCheck {
  const mode = config.connection.ssl_mode;
  if (verifiedTls(config.connection)) return pass("tls", `TLS, certificate verified (${mode})`);
  if (isLoopback((client as unknown as { host: string }).host)) return pass("tls", `on this machine (ssl_mode ${mode})`);
  return warn(
    "tls",
    `the connection is not verified (ssl_mode ${mode}${mode === "verify-ca" ? " against public CAs" : ""}): whoever answers at ${config.connection.host} is trusted with what is read; a request for the password in clear or as MD5 is refused (SCRAM only)`,
    "set ssl_mode verify-full; for a private CA give its certificate in ssl_root_cert or NODE_EXTRA_CA_CERTS",
  );
}

async function checksAfterConnect(client: pg.Client, config: TPostgresConfig, ctx: HealthContext): Promise<HealthCheck[]> {
  const cdc = config.options.change_tracking === "cdc";
  const user = config.authentication.username;
  const need = (name: string, message: string, hint: string) => (cdc ? fail(name, message, hint) : warn(name, message, hint));
  const checks: HealthCheck[] = [
    pass("reachable", `connected to ${config.connection.host}:${config.connection.port}`),
    pass("authenticated", `signed in as ${user}`),
    pass("database_exists", `database "${config.connection.database}" is open`),
    tlsCheck(client, config),
  ];

  const { rows: [s] } = await client.query<{ version: number; version_text: string; wal_level: string; super: boolean; repl: boolean; max_slots: number; used_slots: number; can_create: boolean }>(
    `SELECT current_setting('server_version_num')::int AS version, current_setting('server_version') AS version_text,
            current_setting('wal_level') AS wal_level, r.rolsuper AS super, r.rolreplication AS repl,
            current_setting('max_replication_slots')::int AS max_slots, (SELECT count(*)::int FROM pg_replication_slots) AS used_slots,
            has_database_privilege(current_database(), 'CREATE') AS can_create
     FROM pg_roles r WHERE r.rolname = current_user`,
  );
  checks.push(
    s!.version >= MIN_SERVER_VERSION
      ? pass("server_version", `PostgreSQL ${s!.version_text}`)
      : fail("server_version", `PostgreSQL ${s!.version_text} is older than 12`, "upgrade to PostgreSQL 12 or newer"),
  );
  checks.push(
    s!.wal_level === "logical"
      ? pass("wal_level", "wal_level is logical")
      : need("wal_level", `wal_level is ${s!.wal_level}; change data capture needs logical`, "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL"),
  );
  checks.push(
    s!.super || s!.repl
      ? pass("replication_privilege", `${user} may replicate`)
      : need("replication_privilege", `${user} lacks the REPLICATION attribute`, `ALTER ROLE ${client.escapeIdentifier(user)} REPLICATION`),
  );

  const tables = ctx.tables.length
    ? ctx.tables
    : (await client.query<{ name: string }>(
        `SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r','p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
      )).rows.map((r) => r.name);
  const denied: string[] = [];
  for (const t of tables) {
    const [schema, table] = t.includes(".") ? t.split(".", 2) : ["public", t];
    const { rows } = await client.query<{ ok: boolean | null }>(
      `SELECT has_table_privilege(c.oid, 'SELECT') AS ok FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [schema, table],
    );
    if (!rows[0]?.ok) denied.push(t);
  }
  checks.push(
    denied.length === 0
      ? pass("select_privilege", `SELECT granted on ${tables.length} table${tables.length === 1 ? "" : "s"}`)
      : (ctx.tables.length ? fail : warn)(
          "select_privilege",
          `${user} cannot read ${denied.slice(0, 5).join(", ")}${denied.length > 5 ? ` and ${denied.length - 5} more` : ""}`,
          `GRANT SELECT ON ${denied.slice(0, 3).join(", ")} TO ${client.escapeIdentifier(user)}`,
        ),
  );

  const pub = await client.query<{ tables: number }>(
    `SELECT (SELECT count(*)::int FROM pg_publication_tables t WHERE t.pubname = p.pubname) AS tables FROM pg_publication p WHERE p.pubname = $1`,
    [ctx.publication],
  );
  if (pub.rowCount) checks.push(pass("publication", `publication ${ctx.publication} exists (${pub.rows[0]!.tables} tables)`));
  else if (s!.super || s!.can_create) checks.push(pass("publication", `publication ${ctx.publication} will be created when streaming starts`));
  else
    checks.push(
      need("publication", `${user} cannot create publication ${ctx.publication}`, `GRANT CREATE ON DATABASE ${client.escapeIdentifier(config.connection.database)} TO ${client.escapeIdentifier(user)} (and own the mapped tables), or have a superuser run CREATE PUBLICATION ${ctx.publication} FOR TABLE …`),
    );

  const slot = await client.query<{ active: boolean; wal_status: string | null; retained: string | null }>(
    `SELECT active, wal_status, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained FROM pg_replication_slots WHERE slot_name = $1`,
    [ctx.slot],
  );
  const row = slot.rows[0];
  if (!row) {
    checks.push(
      s!.used_slots < s!.max_slots
        ? pass("replication_slot", `slot ${ctx.slot} will be created before the first snapshot (${s!.max_slots - s!.used_slots} free)`)
        : need("replication_slot", `no free replication slot (max_replication_slots = ${s!.max_slots})`, "raise max_replication_slots, or drop unused slots"),
    );
  } else if (row.wal_status === "lost") {
    checks.push(fail("replication_slot", `slot ${ctx.slot} is lost: the server removed WAL it still needed`, "re-snapshot the source: its changes since the slot was lost cannot be read"));
  } else {
    const retained = Number(row.retained ?? 0);
    const text = `slot ${ctx.slot} ${row.active ? "active" : "inactive"}, wal_status ${row.wal_status}, ${formatBytes(retained)} of WAL retained`;
    checks.push(row.wal_status === "unreserved" ? warn("replication_slot", text, "the slot is about to lose WAL: resume streaming or raise max_slot_wal_keep_size") : pass("replication_slot", text));
  }
  // A source kept by incremental runs has no slot or publication: what change capture needs is not its concern.
  if (config.options.change_tracking === "incremental") return [...checks.filter((k) => !CAPTURE_CHECKS.has(k.name)), ...(await incrementalChecks(client, user, ctx.cursors, config.options.incremental?.lag_seconds))];
  return checks;
}

const CAPTURE_CHECKS = new Set(["wal_level", "replication_privilege", "publication", "replication_slot"]);

/** Incremental sync (docs/incremental.md): whether the lag can follow open transactions, and an index on each cursor. */
async function incrementalChecks(client: pg.Client, user: string, cursors: HealthContext["cursors"], lagSeconds: number | undefined): Promise<HealthCheck[]> {
  const open = await openTransactions(client);
  const checks = [
    lagCheck(
      open,
      open.hidden?.startsWith("this is a hot standby")
        ? "set options.incremental.lag_seconds above the primary's longest transaction plus the standby's replay delay"
        : `GRANT pg_read_all_stats TO ${client.escapeIdentifier(user)}, or set options.incremental.lag_seconds`,
      lagSeconds,
    ),
  ];
  const unindexed: { table: string; column: string }[] = [];
  for (const { table, cursor } of cursors) {
    const [schema, name] = (table.includes(".") ? table.split(".", 2) : ["public", table]) as [string, string];
    const { rows } = await client.query<{ indexed: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
                      WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3) AS indexed`,
      [schema, name, cursor[0]],
    );
    if (!rows[0]?.indexed) unindexed.push({ table, column: cursor[0]! });
  }
  const q = (id: string) => client.escapeIdentifier(id);
  const qualified = (t: string) => (t.includes(".") ? t.split(".", 2).map(q).join(".") : `${q("public")}.${q(t)}`);
  if (cursors.length) checks.push(cursorIndexCheck(cursors.length, unindexed, (u) => `CREATE INDEX ON ${qualified(u.table)} (${q(u.column)})`));
  return checks;
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
