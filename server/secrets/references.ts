// Secret references: where a secret lives, never the secret itself. Only references are stored in a
// source's config and returned by the API; the value is resolved in the process that connects.
//   env://NAME            an environment variable of the connecting process
//   file:///abs/path      a file readable by the connecting process
//   vault://path#key      HashiCorp Vault KV v2 (VAULT_ADDR, VAULT_TOKEN)
//   secret://<uuid>       a value typed into the console, stored AES-256-GCM encrypted
import { z } from "zod";

export const SECRET_SCHEMES = ["env", "file", "vault", "secret"] as const;
export type SecretScheme = (typeof SECRET_SCHEMES)[number];

const PATTERNS: Record<SecretScheme, RegExp> = {
  env: /^env:\/\/[A-Za-z_][A-Za-z0-9_]*$/,
  file: /^file:\/\/\/.+$/,
  vault: /^vault:\/\/[^#\s]+(#[^#\s]+)?$/,
  secret: /^secret:\/\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
};

export function isSecretReference(value: string): boolean {
  return SECRET_SCHEMES.some((s) => PATTERNS[s].test(value));
}

export function secretScheme(value: string): SecretScheme | null {
  return SECRET_SCHEMES.find((s) => PATTERNS[s].test(value)) ?? null;
}

export const ZSecretReference = z
  .string()
  .refine(
    isSecretReference,
    "must be a secret reference: env://NAME, file:///path, vault://path#key or secret://<id>. " +
      "To enter the password itself, send it as authentication.password: it is stored encrypted and replaced by a secret:// reference.",
  );

export function storedSecretId(reference: string): string | null {
  return reference.startsWith("secret://") && PATTERNS.secret.test(reference) ? reference.slice("secret://".length) : null;
}
