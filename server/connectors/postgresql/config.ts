// The spec's connection configuration for connector_type "postgresql", as written in the spec.
// Objects are strict: a misspelt key ("hots") is an error at its path, not silently ignored.
import { z } from "zod";
import { controlCharacterPaths } from "../../json/safe.ts";
import { ZSecretReference } from "../../secrets/references.ts";
import { ZSourceOptions } from "../options.ts";

// Only a PEM certificate is multi-line text; every other string is one line without control characters.
const MULTILINE_FIELDS = new Set(["connection.ssl_root_cert"]);

export const SSL_MODES = ["disable", "prefer", "require", "verify-ca", "verify-full"] as const;

export const ZPostgresConfig = z
  .object({
    connector_type: z.literal("postgresql"),
    connection: z
      .object({
        host: z.string().trim().min(1, "host is required").max(255).meta({ title: "Host", description: "Host name or IP address of the PostgreSQL server" }),
        port: z.number().int("port must be a whole number").min(1).max(65535).default(5432).meta({ title: "Port", description: "TCP port, usually 5432" }),
        database: z.string().min(1, "database is required").max(63, "PostgreSQL database names are at most 63 bytes").meta({ title: "Database", description: "Database to read from" }),
        ssl_mode: z.enum(SSL_MODES).default("prefer").meta({ title: "SSL mode", description: "TLS: verify-full checks the certificate and host name" }),
        // libpq's sslrootcert: the CA that signed the server's certificate (public, not a secret).
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
        username: z.string().min(1, "username is required").max(63).meta({ title: "Username", description: "A role with SELECT on the mapped tables, and REPLICATION for CDC" }),
        // Optional: servers with trust or certificate authentication need none (API.md).
        password_secret: ZSecretReference.optional().meta({ title: "Password" }),
        // Write-only: a password typed in. Stored AES-256-GCM encrypted and replaced by a
        // secret://<id> reference in password_secret; never stored in the config or returned.
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
