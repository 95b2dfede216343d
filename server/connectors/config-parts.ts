// Pieces of the spec's connection configuration every database connector type shares: TLS modes,
// the CA certificate, credentials with a password given either as a reference or typed (stored
// encrypted), and the rule that no string but a PEM certificate holds control characters.
import tls from "node:tls";
import { z } from "zod";
import { controlCharacterPaths } from "../json/safe.ts";
import { ZSecretReference } from "../secrets/references.ts";

export const SSL_MODES = ["disable", "prefer", "require", "verify-ca", "verify-full"] as const;

export const zSslMode = () => z.enum(SSL_MODES).default("prefer").meta({ title: "SSL mode", description: "TLS: verify-full checks the certificate and host name" });

/** The CA that signed the server's certificate (public, not a secret). */
export const zRootCert = () =>
  z
    .string()
    .regex(/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/, "must be a PEM certificate (-----BEGIN CERTIFICATE----- …)")
    .optional()
    .meta({ title: "SSL root certificate", description: "PEM of the CA for verify-ca / verify-full (default: the system's CAs)" });

/** `authentication`: a user, and a password as a reference (`password_secret`) or typed once (`password`, write-only). */
export const zCredentials = (username: { max: number; description: string }) =>
  z
    .object({
      type: z.literal("credentials"),
      username: z.string().min(1, "username is required").max(username.max).meta({ title: "Username", description: username.description }),
      // Optional: servers that trust the connection need none.
      password_secret: ZSecretReference.optional().meta({ title: "Password" }),
      // Write-only: a password typed in. Stored AES-256-GCM encrypted and replaced by a
      // secret://<id> reference in password_secret; never stored in the config or returned.
      password: z.string().min(1).max(1024).optional(),
    })
    .strict()
    .refine((a) => !(a.password && a.password_secret), {
      message: "give either password (a value, stored encrypted) or password_secret (a reference), not both",
      path: ["password"],
    });

/** Refuses control characters in every string of the config but the PEM certificate. */
export function withoutControlCharacters<T extends z.ZodType>(schema: T) {
  return schema.superRefine((config, ctx) => {
    for (const path of controlCharacterPaths(config, new Set(["connection.ssl_root_cert"]))) {
      ctx.addIssue({ code: "custom", path, message: "must not contain control characters (NUL, line breaks, escapes)" });
    }
  });
}

type TlsFields = { host: string; ssl_mode: (typeof SSL_MODES)[number]; ssl_root_cert?: string };

/**
 * Node's TLS options for an ssl_mode (libpq's meanings), null for `disable`. The connection goes to
 * the checked address, so verify-full checks the certificate against the host name the user wrote.
 */
export function tlsOptions(connection: TlsFields): tls.ConnectionOptions | null {
  const { ssl_mode: mode, host } = connection;
  const servername = /^[\d.:]+$/.test(host) ? undefined : host;
  const ca = connection.ssl_root_cert;
  switch (mode) {
    case "disable":
      return null;
    case "prefer":
    case "require":
      // Encrypted, certificate not checked.
      return { rejectUnauthorized: false, servername };
    case "verify-ca":
      // Certificate must chain to a trusted CA (ssl_root_cert, the system store or NODE_EXTRA_CA_CERTS); any host name.
      return { rejectUnauthorized: true, servername, ca, checkServerIdentity: () => undefined };
    case "verify-full":
      return { rejectUnauthorized: true, servername, ca, checkServerIdentity: (_name, cert) => tls.checkServerIdentity(host, cert) };
  }
}

/**
 * Whether the channel is verified TLS. verify-ca checks no name: against the system's CAs any
 * certificate a public CA signed passes (libpq refuses that too); only against the source's own CA
 * (ssl_root_cert) is it verified.
 */
export const verifiedTls = (connection: TlsFields) => connection.ssl_mode === "verify-full" || (connection.ssl_mode === "verify-ca" && !!connection.ssl_root_cert);

/** What an unverified channel is, for the password guard's refusal. */
export function unverifiedChannel(connection: TlsFields): string {
  const mode = connection.ssl_mode;
  return mode === "disable" ? "a connection without TLS" : mode === "verify-ca" ? "TLS checked only against public CAs (verify-ca without ssl_root_cert)" : `a connection whose certificate is not checked (ssl_mode ${mode})`;
}
