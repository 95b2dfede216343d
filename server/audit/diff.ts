// What changed between two JSON documents, as the audit trail keeps it: each leaf (or whole
// array) that differs, with its path and both values. Arrays are compared whole: a mapping's field
// list reads better as "fields: before → after" than as index shuffles.
import { isDeepStrictEqual } from "node:util";

export type Change = { path: string; before: unknown; after: unknown };

const MAX_CHANGES = 200;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The changes from `before` to `after` (at most 200; `path` joins keys with "." and indexes with [n]). */
export function jsonDiff(before: unknown, after: unknown, path = ""): Change[] {
  const out: Change[] = [];
  walk(before, after, path, out);
  return out.slice(0, MAX_CHANGES);
}

function walk(before: unknown, after: unknown, path: string, out: Change[]) {
  if (out.length >= MAX_CHANGES || isDeepStrictEqual(before, after)) return;
  if (isObject(before) && isObject(after)) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      walk(Object.hasOwn(before, key) ? before[key] : undefined, Object.hasOwn(after, key) ? after[key] : undefined, path ? `${path}.${key}` : key, out);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length && before.every((b, i) => isObject(b) && isObject(after[i]))) {
    // A list of objects of the same length (a mapping's entries): item by item.
    before.forEach((b, i) => walk(b, after[i], `${path}[${i}]`, out));
    return;
  }
  out.push({ path: path || "(root)", before: before ?? null, after: after ?? null });
}
