// One line per event, JSON in production and when piped, readable on a terminal. Secret values
// never reach a log line: fields whose name says they hold a secret are redacted unless the value
// is a secret reference (env://, file://, vault://, secret://), which is safe to show.
import { isSecretReference } from "./secrets/references.ts";

type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|api[_-]?key|private/i;

/** Whether a field or column name says it holds a secret (its values are redacted everywhere). */
export const isSecretName = (name: string) => SECRET_KEY.test(name);

export type LogSink = (line: string) => void;
let sinks: LogSink[] = [(line) => process.stderr.write(line + "\n")];
let minLevel: Level = (process.env.ECM_LOG_LEVEL as Level) || "info";

/** Tests use this to inspect every line the process would log. */
export function addLogSink(sink: LogSink): () => void {
  sinks.push(sink);
  return () => {
    sinks = sinks.filter((s) => s !== sink);
  };
}

export function redact(value: unknown, key = "", depth = 0): unknown {
  if (depth > 8) return "[deep]";
  if (typeof value === "string") return SECRET_KEY.test(key) && !isSecretReference(value) ? "[redacted]" : value;
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: string }).code };
  if (Array.isArray(value)) return value.map((v) => redact(v, key, depth + 1));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k, depth + 1)]));
  }
  return value;
}

function write(level: Level, component: string, msg: string, fields?: Record<string, unknown>) {
  if (ORDER[level] < ORDER[minLevel]) return;
  const line = JSON.stringify({ t: new Date().toISOString(), level, component, msg, ...(redact(fields ?? {}) as object) });
  for (const sink of sinks) sink(line);
}

export function logger(component: string) {
  return {
    debug: (msg: string, fields?: Record<string, unknown>) => write("debug", component, msg, fields),
    info: (msg: string, fields?: Record<string, unknown>) => write("info", component, msg, fields),
    warn: (msg: string, fields?: Record<string, unknown>) => write("warn", component, msg, fields),
    error: (msg: string, fields?: Record<string, unknown>) => write("error", component, msg, fields),
  };
}
export type Logger = ReturnType<typeof logger>;

export function setLogLevel(level: Level) {
  minLevel = level;
}
