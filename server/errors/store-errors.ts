// The product's own store is reached through Prisma (metadata) and a plain pg pool (bulk writes).
// Both kinds of error are the store's: Prisma's always (nothing else uses Prisma), the pool's
// because its clients mark what they throw (db.ts). Prisma wraps the driver's failure; what it
// means is read from the driver adapter's cause (a SQLSTATE, or a kind such as
// DatabaseNotReachable) or, without one, from Prisma's own P-code.
import type { ErrorCategory } from "./app-error.ts";

type Reading = { category: ErrorCategory; code: string | null; reason: string };

/** Prisma's error classes all carry this name prefix (PrismaClientKnownRequestError, …InitializationError, …). */
export function isPrismaError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === "string" && name.startsWith("PrismaClient");
}

/** The driver adapter's cause of a Prisma error: a SQLSTATE, and the adapter's kind. */
export function prismaCause(error: unknown): { sqlState: string | null; kind: string | null } {
  const cause = (error as { meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown; originalCode?: unknown } } } }).meta?.driverAdapterError?.cause;
  const code = typeof cause?.originalCode === "string" ? cause.originalCode : typeof cause?.code === "string" ? cause.code : null;
  return { sqlState: code && /^[0-9A-Z]{5}$/.test(code) ? code : null, kind: typeof cause?.kind === "string" ? cause.kind : null };
}

/** Driver adapter kinds without a SQLSTATE (the connection's own failures). */
const ADAPTER_KINDS: Record<string, Reading> = {
  DatabaseNotReachable: { category: "TRANSIENT", code: null, reason: "the store is unreachable" },
  ConnectionClosed: { category: "TRANSIENT", code: null, reason: "the store closed the connection" },
  SocketTimeout: { category: "TRANSIENT", code: null, reason: "the store did not answer in time" },
  TooManyConnections: { category: "TRANSIENT", code: null, reason: "the store has no connection free" },
  TransactionWriteConflict: { category: "TRANSIENT", code: null, reason: "write conflict or deadlock" },
  AuthenticationFailed: { category: "CONFIGURATION", code: null, reason: "the store refused the credentials in DATABASE_URL" },
  DatabaseDoesNotExist: { category: "CONFIGURATION", code: null, reason: "the store's database does not exist (DATABASE_URL)" },
  DatabaseAccessDenied: { category: "CONFIGURATION", code: null, reason: "the store's database refused access (DATABASE_URL)" },
  TlsConnectionError: { category: "CONFIGURATION", code: null, reason: "TLS to the store (DATABASE_URL)" },
};

/** Prisma's own codes that mean the store may answer later (docs: prisma.io/docs/orm/reference/error-reference). */
const TRANSIENT_P_CODES: Record<string, string> = {
  P1001: "the store is unreachable",
  P1002: "the store did not answer in time",
  P1008: "the store operation timed out",
  P1017: "the store closed the connection",
  P2024: "no store connection free in time",
  P2028: "the store transaction was closed (timeout)",
  P2034: "write conflict or deadlock",
};

/** A Prisma error's category, or its SQLSTATE for classify.ts to read by the store's table. */
export function prismaReading(error: unknown): Reading | { sqlState: string } {
  const { sqlState, kind } = prismaCause(error);
  if (sqlState) return { sqlState };
  const byKind = kind ? ADAPTER_KINDS[kind] : undefined;
  if (byKind) return { ...byKind, code: kind };
  const code = (error as { code?: unknown; errorCode?: unknown }).code ?? (error as { errorCode?: unknown }).errorCode;
  if (typeof code === "string" && code in TRANSIENT_P_CODES) return { category: "TRANSIENT", code, reason: TRANSIENT_P_CODES[code]! };
  return { category: "FATAL", code: typeof code === "string" ? code : null, reason: "unexpected store error (a bug or corrupted state)" };
}
