// The product's one logger (pino): JSON lines on stderr by default, readable on a terminal or with
// ECM_LOG_FORMAT=pretty. Each module takes a child logger named for its component; a job's lines
// also carry its run, source and job ids (withLogContext), however deep the code that logs them.
//
// Redaction is configured here, once, by path: any field named like a secret (password, token,
// authorization, …) down to four levels is replaced by "[redacted]", unless its value is a secret
// reference (env://, file://, vault://, secret://), which is safe and useful to see. Data payloads
// whose keys are a source's column names are redacted by name instead (secrets/redact.ts).
import { AsyncLocalStorage } from "node:async_hooks";
import pino, { type Logger as PinoLogger } from "pino";
import { prettyFactory } from "pino-pretty";
import { ZEnv } from "./env.ts";
import { isSecretName, SECRET_FIELDS } from "./secrets/redact.ts";
import { isSecretReference } from "./secrets/references.ts";

const REDACT_DEPTH = 4;
/** "password", "*.password", "*.*.password", … : pino's redaction paths for every secret field. */
const REDACT_PATHS = SECRET_FIELDS.flatMap((field) =>
  Array.from({ length: REDACT_DEPTH + 1 }, (_, depth) => [...Array<string>(depth).fill("*"), field].join(".")),
);

const censor = (value: unknown) => (typeof value === "string" && isSecretReference(value) ? value : "[redacted]");

/**
 * The same rule by name, for what the fixed paths cannot know in advance (`db_password`,
 * `accessToken`, a column named `x-api-key`): every value under a secret-looking name, at any of
 * the first REDACT_DEPTH levels, is replaced whole (a secret reference stays). Errors are left to
 * their serializer. Copies only what it changes.
 */
function redactByName(value: unknown, depth = 0): unknown {
  if (depth > REDACT_DEPTH || value === null || typeof value !== "object" || value instanceof Error) return value;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const r = redactByName(v, depth + 1);
      if (r !== v) changed = true;
      return r;
    });
    return changed ? out : value;
  }
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(value)) {
    const r = isSecretName(k) && v !== null && v !== undefined && !(typeof v === "string" && isSecretReference(v)) ? "[redacted]" : redactByName(v, depth + 1);
    if (r !== v) {
      out ??= { ...(value as Record<string, unknown>) };
      Object.defineProperty(out, k, { value: r, enumerable: true, writable: true, configurable: true });
    }
  }
  return out ?? value;
}

/** An error as a log field: what it is, never the values some drivers attach (a row, a query's parameters). */
function errorField(value: unknown) {
  if (!(value instanceof Error)) return value;
  const code = (value as { code?: unknown }).code;
  return { type: value.name, message: value.message, ...(code !== undefined ? { code } : {}), stack: value.stack };
}

export type LogSink = (line: string) => void;
let sinks: LogSink[] = [];

/** Tests use this to inspect every line the process logs, exactly as written. */
export function addLogSink(sink: LogSink): () => void {
  sinks.push(sink);
  return () => {
    sinks = sinks.filter((s) => s !== sink);
  };
}

// The logger is made when this module loads, before anything calls env(), so it reads its two
// variables itself, with env()'s own schemas (an empty value is unset, as there).
const format = ZEnv.shape.ECM_LOG_FORMAT.safeParse(process.env.ECM_LOG_FORMAT || undefined).data;
const requestedLevel = ZEnv.shape.ECM_LOG_LEVEL.safeParse(process.env.ECM_LOG_LEVEL || undefined);
/** An unknown ECM_LOG_LEVEL logs at info, and says so once the logger exists. */
const level = requestedLevel.data ?? "info";

function pretty(): boolean {
  if (format) return format === "pretty";
  // A person is reading a terminal; anything else (a pipe, a file, a log shipper) gets JSON.
  return Boolean(process.stderr.isTTY);
}

/** stderr (JSON, or prettified for a person) and every test sink, all from the same JSON line. */
function destination() {
  const prettify = pretty() ? prettyFactory({ colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" }) : null;
  return {
    write(line: string) {
      process.stderr.write(prettify ? prettify(line) : line);
      for (const sink of sinks) sink(line.trimEnd());
    },
  };
}

const context = new AsyncLocalStorage<Record<string, unknown>>();

/** Runs fn with fields (run_id, source_id, job_id) added to every line logged inside it. */
export function withLogContext<T>(fields: Record<string, unknown>, fn: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, fn);
}

/**
 * Adds fields to the current context from here on (a stream job learns its run id only once it
 * holds the lease). Call it inside withLogContext, so the fields stay with that job.
 */
export function addLogContext(fields: Record<string, unknown>): void {
  const store = context.getStore();
  // Outside a job there is nothing to add to, and entering a store there would tag everything
  // the caller does afterwards.
  if (store) context.enterWith({ ...store, ...fields });
}

const root: PinoLogger = pino(
  {
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }), log: (fields) => redactByName(fields) as Record<string, unknown> },
    serializers: { error: errorField, err: errorField },
    redact: { paths: REDACT_PATHS, censor },
    // A copy: pino merges each line's fields into what mixin returns, and the job's context must
    // not collect them.
    mixin: () => ({ ...context.getStore() }),
  },
  destination(),
);
if (!requestedLevel.success) root.warn({ ECM_LOG_LEVEL: process.env.ECM_LOG_LEVEL, allowed: ZEnv.shape.ECM_LOG_LEVEL.unwrap().options }, "unknown log level; logging at info");

/** A component's logger: `log.info({ source_id }, "message")`, as pino takes them. */
export function logger(component: string): Logger {
  return root.child({ component });
}
export type Logger = PinoLogger;
