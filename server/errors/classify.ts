// The one place that decides an error's category (the spec's Error Categories):
//   TRANSIENT      retry with backoff: the same operation may succeed later
//   CONFIGURATION  stop and alert: an operator must change something (credentials, grants, schema, mapping)
//   DATA           record this one record as a dead letter and go on
//   FATAL          stop and alert: state we cannot continue from (lost slot, bugs, corrupted state)
// The table is documented in docs/errors.md and tested case by case (classify.test.ts).
import { AppError, type ErrorCategory } from "./app-error.ts";
import { classifierOf, originOf, type ErrorOrigin } from "./origin.ts";
import { isPrismaError, prismaReading } from "./store-errors.ts";

/** `origin`: whose error it is (null: the product's own code, or not known). */
export type Classified = { category: ErrorCategory; code: string | null; reason: string; origin: ErrorOrigin | null };

/** SQLSTATE classes (first two characters) and their category. */
const SQLSTATE_CLASSES: Record<string, { category: ErrorCategory; reason: string }> = {
  "08": { category: "TRANSIENT", reason: "connection exception" },
  "40": { category: "TRANSIENT", reason: "transaction rollback (serialization failure, deadlock)" },
  "53": { category: "TRANSIENT", reason: "insufficient resources (connections, memory, disk)" },
  "57": { category: "TRANSIENT", reason: "operator intervention (admin shutdown, cancel, crash recovery)" },
  "58": { category: "TRANSIENT", reason: "system error (I/O)" },
  "28": { category: "CONFIGURATION", reason: "invalid authorization (password, pg_hba.conf)" },
  "3D": { category: "CONFIGURATION", reason: "database does not exist" },
  "3F": { category: "CONFIGURATION", reason: "schema does not exist" },
  "42": { category: "CONFIGURATION", reason: "undefined table/column or insufficient privilege" },
  "22": { category: "DATA", reason: "data exception (value out of range, invalid text)" },
  "23": { category: "DATA", reason: "integrity constraint violation" },
  XX: { category: "FATAL", reason: "internal error (corrupted data)" },
};

/** Exact SQLSTATEs that differ from their class. */
const SQLSTATES: Record<string, { category: ErrorCategory; reason: string }> = {
  "55006": { category: "TRANSIENT", reason: "object in use (replication slot held by another connection)" },
  "55P03": { category: "TRANSIENT", reason: "lock not available" },
  "55000": { category: "CONFIGURATION", reason: "object not in prerequisite state (wal_level, replica identity)" },
  "57P01": { category: "TRANSIENT", reason: "admin shutdown" },
  "57014": { category: "TRANSIENT", reason: "query canceled (statement timeout)" },
  "42P01": { category: "CONFIGURATION", reason: "table does not exist" },
  "42703": { category: "CONFIGURATION", reason: "column does not exist" },
  "42501": { category: "CONFIGURATION", reason: "insufficient privilege" },
  "42704": { category: "CONFIGURATION", reason: "object does not exist (publication, slot, type)" },
  "53100": { category: "TRANSIENT", reason: "disk full" },
  "53300": { category: "TRANSIENT", reason: "too many connections" },
  "53400": { category: "CONFIGURATION", reason: "configuration limit exceeded (max_replication_slots, max_wal_senders)" },
};

/** Node network errors: all worth retrying (the peer may come back). */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ECONNABORTED"]);
const NETWORK_MESSAGES = /Connection terminated|connection timeout|timeout expired|socket hang up|Client has encountered a connection error|terminating connection/i;

/**
 * SQLSTATE classes that mean something else when the product's own store raises them: the store
 * refusing a batch's value or constraint is not one record's fault (records the store cannot hold
 * are refused one by one before the write), so the batch cannot be dead-lettered: stop and alert.
 */
const STORE_CLASSES: Record<string, { category: ErrorCategory; reason: string }> = {
  "22": { category: "FATAL", reason: "the context store refused a value (a product bug)" },
  "23": { category: "FATAL", reason: "the context store refused a constraint (a product bug)" },
};

/** A PostgreSQL SQLSTATE's category (null: not a SQLSTATE); the store's own data and constraint errors are FATAL. */
export function sqlStateCategory(code: string, origin: ErrorOrigin | null): Omit<Classified, "origin"> | null {
  if (!/^[0-9A-Z]{5}$/.test(code)) return null;
  const exact = SQLSTATES[code] ?? (origin === "store" ? STORE_CLASSES[code.slice(0, 2)] : undefined) ?? SQLSTATE_CLASSES[code.slice(0, 2)];
  if (exact) return { category: exact.category, code, reason: exact.reason };
  return { category: "FATAL", code, reason: "unexpected SQLSTATE" };
}

export function classify(error: unknown): Classified {
  // Prisma reaches nothing but the store: its errors are the store's wherever they are caught.
  const origin = originOf(error) ?? (isPrismaError(error) ? "store" : null);
  return { ...categorise(error, origin), origin };
}

function categorise(error: unknown, origin: ErrorOrigin | null): Omit<Classified, "origin"> {
  const e = error as { code?: unknown; message?: string; category?: ErrorCategory; name?: string } | null | undefined;
  const message = e?.message ?? String(error);
  if (error instanceof AppError && error.category) return { category: error.category, code: error.code, reason: "product error" };
  if (e?.name === "MappingDataError") return { category: "DATA", code: null, reason: "a transform failed for this record" };
  if (e?.category && ["TRANSIENT", "CONFIGURATION", "DATA", "FATAL"].includes(e.category)) return { category: e.category, code: typeof e.code === "string" ? e.code : null, reason: "categorised at the source" };
  // A source's own codes are read by its connector type (PostgreSQL's SQLSTATEs, MySQL's ER_*).
  const own = origin === "source" ? classifierOf(error)?.(error) : null;
  if (own) return own;
  if (isPrismaError(error)) {
    const reading = prismaReading(error);
    return "sqlState" in reading ? (sqlStateCategory(reading.sqlState, "store") ?? { category: "FATAL", code: reading.sqlState, reason: "unexpected SQLSTATE" }) : reading;
  }
  const code = typeof e?.code === "string" ? e.code : null;
  // The store is PostgreSQL: its errors, and a source's without a classifier of its own, by SQLSTATE.
  const state = code ? sqlStateCategory(code, origin) : null;
  if (state) return state;
  if (code && NETWORK_CODES.has(code)) return { category: "TRANSIENT", code, reason: "network error" };
  if (NETWORK_MESSAGES.test(message)) return { category: "TRANSIENT", code, reason: "connection lost" };
  if (/self.signed|certificate|SSL/i.test(message)) return { category: "CONFIGURATION", code, reason: "TLS" };
  return { category: "FATAL", code, reason: "unexpected error (a bug or corrupted state)" };
}

export type BackoffPolicy = { initialMs: number; factor: number; maxMs: number; jitter: number };
/** The spec's retry: initial 1 s, factor 2, at most 5 minutes; ±20 % jitter so retries do not align. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, factor: 2, maxMs: 5 * 60_000, jitter: 0.2 };

/** Delay before retry `attempt` (1-based). */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempt - 1));
  const spread = base * policy.jitter;
  return Math.round(Math.min(policy.maxMs, Math.max(0, base - spread + random() * 2 * spread)));
}

/**
 * An error a source raised, as the API answers it: its category, 503 when it may pass, else 400,
 * and the source's own words (the product's errors and unknown failures are not turned into
 * answers: they stay 500s whose detail is in the log).
 */
export function sourceErrorAnswer(error: unknown): AppError | null {
  if (error instanceof AppError || originOf(error) !== "source") return null;
  const c = classify(error);
  // Only what the source said (a SQLSTATE, a network failure): a bug in connector code stays a 500.
  if (!c.code || c.reason === "unexpected error (a bug or corrupted state)") return null;
  const message = (error as Error)?.message ?? String(error);
  return new AppError(c.category === "TRANSIENT" ? "SERVICE_UNAVAILABLE" : "BAD_REQUEST", `the source answered: ${message}`, { category: c.category, cause: error });
}
