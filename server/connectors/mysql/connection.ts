// Opening a connection to a MySQL or MariaDB source: secret resolved here (never earlier), the host
// policy checked on the resolved address, ssl_mode honoured, and session settings that make every
// value's text exact and zone-free (UTC; see values.ts).
import crypto from "node:crypto";
import mysql from "mysql2/promise";
import { AppError } from "../../errors/app-error.ts";
import { resolveSecret, type SecretPolicy } from "../../secrets/resolve.ts";
import { resolveAllowedAddress, type HostPolicy } from "../host-policy.ts";
import { isLoopback } from "../loopback.ts";
import { tlsOptions, unverifiedChannel, verifiedTls } from "../config-parts.ts";
import { mysqlConnectionIdentity, type TMysqlConfig } from "./config.ts";

export type ConnectPolicies = { hosts?: HostPolicy; secrets?: SecretPolicy };

/** The server asked for the password in a form that would reveal it over an unverified channel. */
export class PasswordRefusedError extends AppError {
  constructor(message: string) {
    super("BAD_REQUEST", message, { category: "CONFIGURATION", issues: [{ path: "config.connection.ssl_mode", message: "set verify-full (or verify-ca) to send the password to this server" }] });
    this.name = "PasswordRefusedError";
  }
}

// ---- The password guard (docs/security.md, "TLS and passwords") ----
// Over a channel that is not verified TLS and leaves the machine, the password may only be proved
// by challenge and response (mysql_native_password, caching_sha2_password's fast path): a request
// for it in clear (mysql_clear_password, sha256_password, caching_sha2_password's full
// authentication, which sends it in clear over TLS or encrypted to a public key whoever answers
// supplies) is refused before anything is sent. mysql2 answers some of those by itself in the
// first handshake: giving a plugin of our own for each makes it ask through the plugin instead.
function guardPlugins(why: string) {
  const refuse = (method: string) => () => () => {
    throw new PasswordRefusedError(`the server asked for the password ${method} over ${why}: refused, nothing was sent. Use ssl_mode verify-full (trust a private CA with ssl_root_cert or NODE_EXTRA_CA_CERTS)`);
  };
  return {
    mysql_clear_password: refuse("in clear (mysql_clear_password)"),
    sha256_password: refuse("in clear or to an unverified key (sha256_password)"),
    caching_sha2_password: ({ connection }: { connection: { config: { password?: string } } }) => {
      let sent = false;
      return (data: Buffer) => {
        if (!sent) {
          sent = true;
          return sha2Token(connection.config.password ?? "", data.subarray(0, 20));
        }
        if (data.length === 1 && data[0] === 3) return null; // fast authentication succeeded
        return refuse("in clear or to an unverified key (caching_sha2_password full authentication)")()();
      };
    },
  };
}

/** caching_sha2_password's scramble: SHA256(p) XOR SHA256(SHA256(SHA256(p)) + nonce). Proves the password without revealing it. */
function sha2Token(password: string, nonce: Buffer): Buffer {
  if (!password) return Buffer.alloc(0);
  const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest();
  const stage1 = sha(Buffer.from(password));
  const stage3 = sha(Buffer.concat([sha(stage1), nonce]));
  return Buffer.from(stage1.map((b, i) => b ^ stage3[i]!));
}

/** mysql2's options for this source (the address checked, the password resolved and guarded). */
export async function connectionOptions(config: TMysqlConfig, policies: ConnectPolicies = {}): Promise<mysql.ConnectionOptions> {
  const { connection, authentication } = config;
  const password = authentication.password_secret
    ? await resolveSecret(authentication.password_secret, "config.authentication.password_secret", mysqlConnectionIdentity(config), policies.secrets)
    : authentication.password;
  const address = await resolveAllowedAddress(connection.host, policies.hosts);
  const local = isLoopback(address);
  const guarded = !verifiedTls(connection) && !local;
  return {
    host: address,
    port: connection.port,
    database: connection.database,
    user: authentication.username,
    password,
    ssl: (tlsOptions(connection) ?? undefined) as mysql.SslOptions | undefined,
    // On this machine no one stands between: the server's key may be asked for.
    allowPublicKeyRetrieval: local,
    ...(guarded ? { authPlugins: guardPlugins(unverifiedChannel(connection)) as unknown as mysql.ConnectionOptions["authPlugins"] } : {}),
    charset: "utf8mb4_bin",
    timezone: "Z",
    // Every value as the server's text (or bytes), decoded by values.ts: nothing rounded on the way.
    typeCast: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    connectTimeout: 10_000,
    enableKeepAlive: true,
    multipleStatements: false,
  };
}

/** Connects; ssl_mode "prefer" falls back to plain text when the server has no TLS. */
export async function connect(config: TMysqlConfig, policies: ConnectPolicies = {}): Promise<mysql.Connection> {
  const options = await connectionOptions(config, policies);
  const attempt = async (o: mysql.ConnectionOptions) => {
    const c = await mysql.createConnection(o);
    c.on("error", () => {}); // surfaced through the failing query instead
    // UTC and exact: TIMESTAMP read in UTC, no silent truncation or zero-date rewriting by the session.
    await c.query("SET time_zone = '+00:00', SESSION group_concat_max_len = 1048576");
    return c;
  };
  try {
    return await attempt(options);
  } catch (e) {
    if (config.connection.ssl_mode === "prefer" && /server does not support secure connection/i.test((e as Error).message)) return attempt({ ...options, ssl: undefined });
    throw e;
  }
}

/** A server id for this source's binlog reader, stable per source (a second reader with the same id ends the first: a stale reader of a dead worker is cut off). */
export function binlogServerId(sourceId: string): number {
  const n = parseInt(sourceId.replaceAll("-", "").slice(0, 8), 16);
  return 1_000_000 + (n % 2_000_000_000);
}
