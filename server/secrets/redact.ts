// Redaction by name, for data rather than log lines: a dead letter's payload is a source row whose
// keys are the source's own column names, so no fixed list of paths can cover it. A value whose
// key says it holds a secret is replaced by "[redacted]", at any depth, unless it is a secret
// reference (env://, file://, vault://, secret://), which is safe to show. Log lines are redacted
// by path, in server/logger.ts.
import { isSecretReference } from "./references.ts";
import { JsonText } from "../json/json-text.ts";

/**
 * Field names that hold secrets wherever they appear: the logger redacts them by path
 * (server/logger.ts), and each of them is also a secret name below (one list, tested).
 */
export const SECRET_FIELDS = [
  "password",
  "passphrase",
  "password_secret",
  "passwordSecret",
  "secret",
  "client_secret",
  "token",
  "api_token",
  "access_token",
  "refresh_token",
  "api_key",
  "apiKey",
  "authorization",
  "Authorization",
  "cookie",
  "Cookie",
  "private_key",
  "privateKey",
  "secret_key",
  "connection_string",
  "connectionString",
  "databaseUrl",
  "DATABASE_URL",
  "REDIS_URL",
] as const;

/** What a column or field name holding a secret looks like (a source's columns: any casing, any prefix). */
const SECRET_NAME = /pass(word|phrase)?|secret|token|authorization|cookie|api[_-]?key|private|credential|connection[_-]?string|(database|redis)[_-]?url|dsn/i;
const MAX_DEPTH = 8;

/** Whether a field or column name says it holds a secret (its values are redacted everywhere). */
export const isSecretName = (name: string) => SECRET_NAME.test(name);

/**
 * A record's key as it may be shown (dead letters, run errors, logs): the value of a key column
 * whose name says it holds a secret is replaced. The key itself is kept whole where it is read back
 * (a replay re-reads the row by it).
 */
export const shownKey = (key: readonly string[], columns: readonly string[]) => key.map((v, i) => (columns[i] !== undefined && isSecretName(columns[i]!) ? "[redacted]" : v));

/**
 * The value with every value under a secret-looking name replaced whole, whatever its type (a
 * number, an object, an array), except a secret reference, which is safe to show.
 */
export function redact(value: unknown, key = "", depth = 0): unknown {
  if (depth > MAX_DEPTH) return "[deep]";
  if (key && isSecretName(key) && value !== null && value !== undefined && !(typeof value === "string" && isSecretReference(value))) return "[redacted]";
  if (typeof value === "string") return value;
  if (value instanceof JsonText) return redact(value.value(), key, depth);
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: string }).code };
  if (Array.isArray(value)) return value.map((v) => redact(v, key, depth + 1));
  if (value && typeof value === "object") {
    // fromEntries defines own properties: a column named __proto__ stays a plain key of the copy.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k, depth + 1)]));
  }
  return value;
}
