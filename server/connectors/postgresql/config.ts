// The spec's connection configuration for connector_type "postgresql", as written in the spec.
// Objects are strict: a misspelt key ("hots") is an error at its path, not silently ignored.
import { z } from "zod";
import { withoutControlCharacters, zCredentials, zRootCert, zSslMode } from "../config-parts.ts";
import { ZSourceOptions } from "../options.ts";

export const ZPostgresConfig = withoutControlCharacters(
  z
    .object({
      connector_type: z.literal("postgresql"),
      connection: z
        .object({
          host: z.string().trim().min(1, "host is required").max(255).meta({ title: "Host", description: "Host name or IP address of the PostgreSQL server" }),
          port: z.number().int("port must be a whole number").min(1).max(65535).default(5432).meta({ title: "Port", description: "TCP port, usually 5432" }),
          database: z.string().min(1, "database is required").max(63, "PostgreSQL database names are at most 63 bytes").meta({ title: "Database", description: "Database to read from" }),
          ssl_mode: zSslMode(),
          // libpq's sslrootcert.
          ssl_root_cert: zRootCert(),
        })
        .strict(),
      authentication: zCredentials({ max: 63, description: "A role with SELECT on the mapped tables, and REPLICATION for CDC" }),
      options: ZSourceOptions,
    })
    .strict(),
);

export type TPostgresConfig = z.infer<typeof ZPostgresConfig>;

/**
 * Which server, database and role a stored password was typed for: it is only ever sent to this
 * connection (server/secrets/binding.ts). Any change (another host or port, a weaker TLS mode)
 * needs the password typed again.
 */
export function postgresConnectionIdentity(config: TPostgresConfig) {
  const { connection, authentication } = config;
  return {
    connector_type: "postgresql",
    host: connection.host.toLowerCase(),
    port: connection.port,
    database: connection.database,
    username: authentication.username,
    ssl_mode: connection.ssl_mode,
    ssl_root_cert: connection.ssl_root_cert ?? null,
  };
}
