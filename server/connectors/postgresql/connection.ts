// Opening a connection to a PostgreSQL source: secret resolved here (never earlier), the host
// policy checked on the resolved address, ssl_mode honoured, and session settings that make the
// text form of every value exact and zone-free (see values.ts).
import tls from "node:tls";
import pg from "pg";
import { postgresConnectionIdentity, type TPostgresConfig } from "./config.ts";
import { resolveAllowedAddress, type HostPolicy } from "../host-policy.ts";
import { resolveSecret, type SecretPolicy } from "../../secrets/resolve.ts";

export const SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=iso_8601 -c extra_float_digits=3 -c bytea_output=hex";

export type ConnectPolicies = { hosts?: HostPolicy; secrets?: SecretPolicy };

function sslOptions(connection: TPostgresConfig["connection"]): pg.ClientConfig["ssl"] {
  const { ssl_mode: mode, host } = connection;
  const servername = /^[\d.:]+$/.test(host) ? undefined : host;
  const ca = connection.ssl_root_cert;
  switch (mode) {
    case "disable":
      return false;
    case "prefer":
    case "require":
      // Encrypted, certificate not checked (libpq's meaning of these modes).
      return { rejectUnauthorized: false, servername };
    case "verify-ca":
      // Certificate must chain to a trusted CA (system store or NODE_EXTRA_CA_CERTS); any host name.
      return { rejectUnauthorized: true, servername, ca, checkServerIdentity: () => undefined };
    case "verify-full":
      // Node checks the certificate against the name we connect to; we connect to the checked
      // address, so give it the host name the user wrote.
      return { rejectUnauthorized: true, servername, ca, checkServerIdentity: (_name, cert) => tls.checkServerIdentity(host, cert) };
  }
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
    password,
    ssl: sslOptions(connection),
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
