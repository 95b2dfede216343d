// Where an error came from: the source (through its connector), the product's own store, or the
// job queue. classify() keeps it beside the category, so a log line, an alert or an API answer
// can say whose problem it is, and so one origin's codes are never read as another's (an
// internal error of the store is not the source's, and neither is retried as a network blip).
export type ErrorOrigin = "source" | "store" | "queue";

const ORIGIN = Symbol.for("ecm.error.origin");
const CLASSIFIER = Symbol.for("ecm.error.classifier");

/** A connector type's reading of its own errors (its driver's codes); null: not one it knows. */
export type SourceClassifier = (error: unknown) => { category: "TRANSIENT" | "CONFIGURATION" | "DATA" | "FATAL"; code: string | null; reason: string } | null;

/**
 * Marks `error` as coming from `origin` unless it already has one (the innermost boundary wins);
 * a source's error also carries its connector type's classifier, which classify() asks first.
 */
export function withOrigin(origin: ErrorOrigin, error: unknown, classifier?: SourceClassifier): unknown {
  const target = error !== null && typeof error === "object" ? error : new Error(String(error));
  if (!Object.isFrozen(target) && !(ORIGIN in target)) {
    Object.defineProperty(target, ORIGIN, { value: origin, enumerable: false });
    if (classifier) Object.defineProperty(target, CLASSIFIER, { value: classifier, enumerable: false });
  }
  return target;
}

/** The classifier of the connector type whose boundary an error crossed (none for the store's and the queue's). */
export function classifierOf(error: unknown): SourceClassifier | null {
  return error !== null && typeof error === "object" && CLASSIFIER in error ? ((error as Record<symbol, SourceClassifier>)[CLASSIFIER] ?? null) : null;
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
