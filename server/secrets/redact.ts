// Redaction by name, for data rather than log lines: a dead letter's payload is a source row whose
// keys are the source's own column names, so no fixed list of paths can cover it. A value whose
// key says it holds a secret is replaced by "[redacted]", at any depth, unless it is a secret
// reference (env://, file://, vault://, secret://), which is safe to show. Log lines are redacted
// by path, in server/logger.ts.
import { isSecretReference } from "./references.ts";

const SECRET_NAME = /pass(word)?|secret|token|authorization|cookie|api[_-]?key|private/i;
const MAX_DEPTH = 8;

/** Whether a field or column name says it holds a secret (its values are redacted everywhere). */
export const isSecretName = (name: string) => SECRET_NAME.test(name);

export function redact(value: unknown, key = "", depth = 0): unknown {
  if (depth > MAX_DEPTH) return "[deep]";
  if (typeof value === "string") return isSecretName(key) && !isSecretReference(value) ? "[redacted]" : value;
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: string }).code };
  if (Array.isArray(value)) return value.map((v) => redact(v, key, depth + 1));
  if (value && typeof value === "object") {
    // fromEntries defines own properties: a column named __proto__ stays a plain key of the copy.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k, depth + 1)]));
  }
  return value;
}
