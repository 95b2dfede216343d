// The spec's connection configuration for connector_type "mysql" (MySQL 8.0+ and MariaDB 10.6+).
// Objects are strict: a misspelt key is an error at its path, not silently ignored.
import { z } from "zod";
import { withoutControlCharacters, zCredentials, zRootCert, zSslMode } from "../config-parts.ts";
import { ZSourceOptions } from "../options.ts";

export const ZMysqlConfig = withoutControlCharacters(
  z
    .object({
      connector_type: z.literal("mysql"),
      connection: z
        .object({
          host: z.string().trim().min(1, "host is required").max(255).meta({ title: "Host", description: "Host name or IP address of the MySQL or MariaDB server" }),
          port: z.number().int("port must be a whole number").min(1).max(65535).default(3306).meta({ title: "Port", description: "TCP port, usually 3306" }),
          database: z.string().min(1, "database is required").max(64, "MySQL database names are at most 64 characters").meta({ title: "Database", description: "Database (schema) to read from" }),
          ssl_mode: zSslMode(),
          ssl_root_cert: zRootCert(),
        })
        .strict(),
      authentication: zCredentials({ max: 80, description: "A user with SELECT on the mapped tables, and REPLICATION SLAVE, REPLICATION CLIENT for CDC" }),
      options: ZSourceOptions,
    })
    .strict(),
);

export type TMysqlConfig = z.infer<typeof ZMysqlConfig>;

/** Which server, database and user a stored password was typed for (server/secrets/binding.ts). */
export function mysqlConnectionIdentity(config: TMysqlConfig) {
  const { connection, authentication } = config;
  return {
    connector_type: "mysql",
    host: connection.host.toLowerCase(),
    port: connection.port,
    database: connection.database,
    username: authentication.username,
    ssl_mode: connection.ssl_mode,
    ssl_root_cert: connection.ssl_root_cert ?? null,
  };
}
