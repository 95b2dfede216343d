// One typed application error. Its code maps to an HTTP status / tRPC code; its category is the
// spec's error category (TRANSIENT, CONFIGURATION, DATA, FATAL) where one applies.
import type { output, ZodError, ZodType } from "zod";
export const ERROR_CATEGORIES = ["TRANSIENT", "CONFIGURATION", "DATA", "FATAL"] as const;
export type ErrorCategory = (typeof ERROR_CATEGORIES)[number];

export const APP_ERROR_CODES = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TOO_MANY_REQUESTS: 429,
  INTERNAL_SERVER_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;
export type AppErrorCode = keyof typeof APP_ERROR_CODES;

export type FieldIssue = { path: string; message: string };

export class AppError extends Error {
  readonly code: AppErrorCode;
  readonly category?: ErrorCategory;
  readonly issues?: FieldIssue[];
  /** TOO_MANY_REQUESTS: seconds until a new attempt may succeed (the Retry-After header). */
  readonly retryAfter?: number;

  constructor(code: AppErrorCode, message: string, opts: { category?: ErrorCategory; issues?: FieldIssue[]; cause?: unknown; retryAfter?: number } = {}) {
    super(message, { cause: opts.cause });
    this.name = "AppError";
    this.code = code;
    this.category = opts.category;
    this.issues = opts.issues;
    this.retryAfter = opts.retryAfter;
  }

  static notFound(what: string) {
    return new AppError("NOT_FOUND", `${what} not found`);
  }

  static invalid(issues: FieldIssue[], message = "Invalid input") {
    return new AppError("BAD_REQUEST", `${message}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, {
      category: "CONFIGURATION",
      issues,
    });
  }
}

/** zod issues as field issues; an unknown key is reported at the key itself ("config.connection.hots"), where the user looks. */
export function fieldIssues(error: ZodError): FieldIssue[] {
  return error.issues.flatMap((i) =>
    i.code === "unrecognized_keys"
      ? i.keys.map((key) => ({ path: formatPath([...i.path, key]), message: `unknown field "${key}"; check its spelling` }))
      : [{ path: formatPath(i.path), message: i.message }],
  );
}

/**
 * Parses a value a caller sent, inside a procedure: a 400 with field paths when it does not fit
 * (a zod error thrown from a resolver would otherwise be an internal error).
 */
export function parseRequest<S extends ZodType>(schema: S, value: unknown): output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw AppError.invalid(fieldIssues(parsed.error), "Invalid request");
  return parsed.data;
}

/** zod issue paths as the dotted field paths users see ("mappings[0].fields[2].source"). */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, part) => {
    if (typeof part === "number") return `${acc}[${part}]`;
    return acc ? `${acc}.${String(part)}` : String(part);
  }, "");
}
