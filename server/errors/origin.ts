// Where an error came from: the source (through its connector), the product's own store, or the
// job queue. classify() keeps it beside the category, so a log line, an alert or an API answer
// can say whose problem it is, and so one origin's codes are never read as another's (an
// internal error of the store is not the source's, and neither is retried as a network blip).
export type ErrorOrigin = "source" | "store" | "queue";

const ORIGIN = Symbol.for("ecm.error.origin");

/** Marks `error` as coming from `origin` unless it already has one (the innermost boundary wins). */
export function withOrigin(origin: ErrorOrigin, error: unknown): unknown {
  const target = error !== null && typeof error === "object" ? error : new Error(String(error));
  if (!Object.isFrozen(target) && !(ORIGIN in target)) Object.defineProperty(target, ORIGIN, { value: origin, enumerable: false });
  return target;
}

export function originOf(error: unknown): ErrorOrigin | null {
  return error !== null && typeof error === "object" && ORIGIN in error ? ((error as Record<symbol, ErrorOrigin>)[ORIGIN] ?? null) : null;
}

/** Runs `fn`; whatever it throws carries `origin`. */
export async function within<T>(origin: ErrorOrigin, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw withOrigin(origin, error);
  }
}
