// The error boundary between the product and a source: every error a connector's methods throw
// (rejected promises, failing iterations, the change stream it opens) leaves marked as the
// source's (server/errors/origin.ts), so classify() sees the original error with its code and
// its origin, instead of a relabelled copy, together with the connector type's own classifier
// (its driver's codes are its business: classify() asks it first). Connectors throw what
// happened; nothing here decides a category.
import { withOrigin, type SourceClassifier } from "../errors/origin.ts";
import type { ECMConnector } from "./types.ts";

type Methods = Record<PropertyKey, unknown>;

type Tag = (error: unknown) => unknown;

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === "object" && typeof (value as Methods)[Symbol.asyncIterator] === "function";
}

function isAsyncIterator(value: unknown): value is AsyncIterator<unknown> {
  return value !== null && typeof value === "object" && typeof (value as Methods).next === "function" && !(value instanceof Map);
}

function guardIterator<T>(iterator: AsyncIterator<T>, tag: Tag): AsyncIterator<T> & AsyncIterable<T> {
  const guarded = {
    next: (...args: [] | [unknown]) => iterator.next(...args).catch((e) => Promise.reject(tag(e))),
    return: (value?: unknown) => (iterator.return ? iterator.return(value as T).catch((e) => Promise.reject(tag(e))) : Promise.resolve({ done: true as const, value: value as T })),
    [Symbol.asyncIterator]: () => guarded,
  };
  return guarded as AsyncIterator<T> & AsyncIterable<T>;
}

/** Whatever a method returns, with its failures marked as the source's. */
function guardResult(value: unknown, tag: Tag): unknown {
  if (value instanceof Promise) return value.then((v) => guardResolved(v, tag), (e) => Promise.reject(tag(e)));
  if (isAsyncIterable(value) && typeof (value as unknown as Methods).next === "function") return guardIterator(value as unknown as AsyncIterator<unknown>, tag);
  if (isAsyncIterable(value)) return guardObject(value as object, tag);
  if (isAsyncIterator(value)) return guardIterator(value, tag);
  return value;
}

/** A resolved value that is itself a live object (a change stream) is guarded too; data passes. */
function guardResolved(value: unknown, tag: Tag): unknown {
  return isAsyncIterable(value) ? guardObject(value as object, tag) : value;
}

function guardObject<T extends object>(target: T, tag: Tag): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const member = Reflect.get(obj, prop, receiver);
      if (typeof member !== "function") return member;
      if (prop === Symbol.asyncIterator) return () => guardIterator((member as () => AsyncIterator<unknown>).call(obj), tag);
      return (...args: unknown[]) => {
        let result: unknown;
        try {
          result = (member as (...a: unknown[]) => unknown).apply(obj, args);
        } catch (e) {
          throw tag(e);
        }
        return guardResult(result, tag);
      };
    },
  });
}

/** The connector as the rest of the product sees it: errors marked as the source's, with its type's classifier. */
export function sourceBoundary(connector: ECMConnector, classifier?: SourceClassifier): ECMConnector {
  return guardObject(connector, (error) => withOrigin("source", error, classifier));
}
