// Opening a connection to a PostgreSQL source: secret resolved here (never earlier), the host
// policy checked on the resolved address, ssl_mode honoured, and session settings that make the
// text form of every value exact and zone-free (see values.ts).
import pg from "pg";
import { postgresConnectionIdentity, type TPostgresConfig } from "./config.ts";
import { resolveAllowedAddress, type HostPolicy } from "../host-policy.ts";
import { isLoopback } from "../loopback.ts";
import { tlsOptions, unverifiedChannel, verifiedTls } from "../config-parts.ts";
export { isLoopback };
import { resolveSecret, type SecretPolicy } from "../../secrets/resolve.ts";
import { AppError } from "../../errors/app-error.ts";

export const SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=iso_8601 -c extra_float_digits=3 -c bytea_output=hex";

export type ConnectPolicies = { hosts?: HostPolicy; secrets?: SecretPolicy };

// ---- The password guard (docs/security.md, "TLS and passwords") ----
// A stored password is never revealed over a channel that is not verified TLS (ssl_mode
// verify-ca / verify-full), except to a loopback address: there the server (or whoever answers in
// its place: `prefer` falls back to plain text, `require` checks no certificate) may prove it
// knows the password with SCRAM, but a request for it in clear or as MD5 (a replayable hash) is
// refused before anything is sent. node-postgres answers those requests by itself, so the guard
// sits where it does: its two handlers, wrapped once for every client of this process (the
// replication library's included); a client whose password function carries a refusal answers
// by closing. Pinned by test/integration/security.test.ts against a hostile server.
const REFUSAL = Symbol("ecm.passwordRefusal");
const GUARDED = Symbol("ecm.passwordGuardInstalled");
type GuardedPassword = (() => Promise<string>) & { [REFUSAL]?: string };
type PgClientInternals = { password: unknown; [REFUSAL]?: string; connection: { emit(e: string, err: Error): void; stream: { destroy(): void } } };

/** The server asked for the password in a form that would reveal it over an unverified channel. */
export class PasswordRefusedError extends AppError {
  constructor(message: string) {
    super("BAD_REQUEST", message, { category: "CONFIGURATION", issues: [{ path: "config.connection.ssl_mode", message: "set verify-full (or verify-ca) to send the password to this server" }] });
    this.name = "PasswordRefusedError";
  }
}

function installPasswordGuard() {
  const proto = pg.Client.prototype as unknown as Record<string, (this: PgClientInternals, arg: unknown) => unknown> & { [GUARDED]?: true };
  if (proto[GUARDED]) return;
  proto[GUARDED] = true;
  // node-postgres turns the password function into the plain string the first time any method
  // asks for it (a SCRAM exchange included): the refusal is copied onto the client first, so a
  // server that asks for SCRAM and then for the password in clear is refused too.
  const getPassword = proto._getPassword;
  if (typeof getPassword !== "function") throw new Error("node-postgres changed: _getPassword is gone; the password guard cannot be installed");
  proto._getPassword = function (this: PgClientInternals, cb: unknown) {
    if (typeof this.password === "function" && (this.password as GuardedPassword)[REFUSAL]) this[REFUSAL] = (this.password as GuardedPassword)[REFUSAL];
    return getPassword.call(this, cb);
  };
  for (const [handler, method] of [
    ["_handleAuthCleartextPassword", "in clear (password authentication)"],
    ["_handleAuthMD5Password", "as an MD5 hash (md5 authentication)"],
  ] as const) {
    const original = proto[handler];
    if (typeof original !== "function") throw new Error(`node-postgres changed: ${handler} is gone; the password guard cannot be installed`);
    proto[handler] = function (this: PgClientInternals, msg: unknown) {
      const refusal = this[REFUSAL] ?? (typeof this.password === "function" ? (this.password as GuardedPassword)[REFUSAL] : undefined);
      if (!refusal) return original.call(this, msg);
      this.connection.emit("error", new PasswordRefusedError(`the server asked for the password ${method} over ${refusal}: refused, nothing was sent. Use ssl_mode verify-full (trust a private CA with ssl_root_cert or NODE_EXTRA_CA_CERTS), or SCRAM on the server (password_encryption = scram-sha-256)`));
      this.connection.stream.destroy();
    };
  }
}
installPasswordGuard();


/** The password as node-postgres takes it: a function, carrying a refusal when the channel may not reveal it. */
function guardedPassword(password: string | undefined, connection: TPostgresConfig["connection"], address: string): GuardedPassword | undefined {
  if (password === undefined) return undefined;
  const fn: GuardedPassword = async () => password;
  if (!verifiedTls(connection) && !isLoopback(address)) fn[REFUSAL] = unverifiedChannel(connection);
  return fn;
}

export async function connectionConfig(config: TPostgresConfig, policies: ConnectPolicies = {}, overrides: Partial<pg.ClientConfig> = {}) {
  const { connection, authentication } = config;
  const password = authentication.password_secret
    ? await resolveSecret(authentication.password_secret, "config.authentication.password_secret", postgresConnectionIdentity(config), policies.secrets)
    : authentication.password;
  const address = await resolveAllowedAddress(connection.host, policies.hosts);
  return {
    host: address,
    port: connection.port,
    database: connection.database,
    user: authentication.username,
    password: guardedPassword(password, connection, address),
    ssl: tlsOptions(connection) ?? false,
    options: SESSION_OPTIONS,
    application_name: "ecm-connect",
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    ...overrides,
  } satisfies pg.ClientConfig;
}

/** Connects; ssl_mode "prefer" falls back to plain text when the server has no TLS, as libpq does. */
export async function connect(config: TPostgresConfig, policies: ConnectPolicies = {}, overrides: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const cfg = await connectionConfig(config, policies, overrides);
  const attempt = async (c: pg.ClientConfig) => {
    const client = new pg.Client(c);
    client.on("error", () => {}); // surfaced through the failing query instead
    try {
      await client.connect();
      return client;
    } catch (e) {
      await client.end().catch(() => {});
      throw e;
    }
  };
  try {
    return await attempt(cfg);
  } catch (e) {
    if (config.connection.ssl_mode === "prefer" && /does not support SSL/i.test((e as Error).message)) return attempt({ ...cfg, ssl: false });
    throw e;
  }
}

/** Names the product owns on a source: one publication and one replication slot per source. */
export function replicationNames(sourceId: string) {
  const suffix = sourceId.replaceAll("-", ""); // 32 hex digits: names stay unique and under 63 bytes
  return { publication: `ecm_pub_${suffix}`, slot: `ecm_slot_${suffix}` };
}
