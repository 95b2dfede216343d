// The spec's connection configuration for connector_type "mysql" (MySQL 8.0+ and MariaDB 10.6+).
// Objects are strict: a misspelt key is an error at its path, not silently ignored. The options
// are the ones every connector type shares (ZSourceOptions).
import { z } from "zod";
import { controlCharacterPaths } from "../../json/safe.ts";
import { ZSecretReference } from "../../secrets/references.ts";
import { ZSourceOptions } from "../options.ts";

const MULTILINE_FIELDS = new Set(["connection.ssl_root_cert"]);

export const MYSQL_SSL_MODES = ["disable", "prefer", "require", "verify-ca", "verify-full"] as const;

export const ZMysqlConfig = z
  .object({
    connector_type: z.literal("mysql"),
    connection: z
      .object({
        host: z.string().trim().min(1, "host is required").max(255).meta({ title: "Host", description: "Host name or IP address of the MySQL or MariaDB server" }),
        port: z.number().int("port must be a whole number").min(1).max(65535).default(3306).meta({ title: "Port", description: "TCP port, usually 3306" }),
        database: z.string().min(1, "database is required").max(64, "MySQL database names are at most 64 characters").meta({ title: "Database", description: "Database (schema) to read from" }),
        ssl_mode: z.enum(MYSQL_SSL_MODES).default("prefer").meta({ title: "SSL mode", description: "TLS: verify-full checks the certificate and host name" }),
        ssl_root_cert: z
          .string()
          .regex(/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/, "must be a PEM certificate (-----BEGIN CERTIFICATE----- …)")
          .optional()
          .meta({ title: "SSL root certificate", description: "PEM of the CA for verify-ca / verify-full (default: the system's CAs)" }),
      })
      .strict(),
    authentication: z
      .object({
        type: z.literal("credentials"),
        username: z.string().min(1, "username is required").max(80).meta({ title: "Username", description: "A user with SELECT on the mapped tables, and REPLICATION SLAVE, REPLICATION CLIENT for CDC" }),
        password_secret: ZSecretReference.optional().meta({ title: "Password" }),
        // Write-only: a password typed in, stored encrypted and replaced by a secret:// reference.
        password: z.string().min(1).max(1024).optional(),
      })
      .strict()
      .refine((a) => !(a.password && a.password_secret), {
        message: "give either password (a value, stored encrypted) or password_secret (a reference), not both",
        path: ["password"],
      }),
    options: ZSourceOptions,
  })
  .strict()
  .superRefine((config, ctx) => {
    for (const path of controlCharacterPaths(config, MULTILINE_FIELDS)) {
      ctx.addIssue({ code: "custom", path, message: "must not contain control characters (NUL, line breaks, escapes)" });
    }
  });

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
