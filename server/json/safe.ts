// Rules for JSON the product walks by key (configs, mappings, imports, transform arguments,
// dead-letter and job payloads). A key chosen by a caller never indexes a plain object: the three
// names that reach an object's prototype are refused wherever they appear, documents are built
// with null-prototype objects, and look-ups read own properties only.

/** Keys that reach or replace an object's prototype when used as `obj[key]`. */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

export const isPrototypeKey = (key: string) => PROTOTYPE_KEYS.has(key);

/** The value of an own property, never one inherited from a prototype. */
export function own<T = unknown>(obj: object | null | undefined, key: string): T | undefined {
  return obj != null && Object.hasOwn(obj, key) ? ((obj as Record<string, unknown>)[key] as T) : undefined;
}

/** An empty object without a prototype: `doc[key] = v` can only ever define an own property. */
export function bareObject<T = unknown>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

// A \u0000 escape in JSON text: preceded by an even number of backslashes (an odd one makes it
// the six characters `\u0000` of a string, which jsonb stores like any text).
const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g;

/** Whether JSON text holds U+0000 (as an escape), which jsonb cannot store. */
export function holdsNulEscape(json: string): boolean {
  if (!json.includes("\\u0000")) return false;
  NUL_ESCAPE.lastIndex = 0;
  return NUL_ESCAPE.test(json);
}

// U+0000 or a lone surrogate as the escape JSON.stringify writes for it (JSON.stringify writes a
// pair as itself, never as escapes), not itself escaped: jsonb can store neither.
const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\(u0000|ud[89a-f][0-9a-f]{2})/g;

/**
 * Whether JSON text written by JSON.stringify holds U+0000 or a lone surrogate (as its escape),
 * which jsonb refuses: the record is refused instead of the whole batch.
 */
export function holdsUnstorableEscape(json: string): boolean {
  if (!json.includes("\\u0000") && !json.includes("\\ud")) return false;
  UNSTORABLE_ESCAPE.lastIndex = 0;
  return UNSTORABLE_ESCAPE.test(json);
}

/** Whether text holds U+0000 or a lone surrogate, which the store's text cannot hold as they are. */
export const holdsUnstorable = (s: string): boolean => /[\u0000\p{Cs}]/u.test(s);

/**
 * JSON text written by JSON.stringify with every U+0000 and lone surrogate turned into the text of
 * its escape (`\u0000`, `\ud800`), so jsonb can store what held it (a dead letter's payload).
 */
export function neutralizeUnstorableEscapes(json: string): string {
  return json.includes("\\u") ? json.replace(UNSTORABLE_ESCAPE, "$1\\\\$2") : json;
}

// C0 controls and DEL. Tab, CR and LF are allowed only where a value is multi-line text.
const CONTROL = /[\u0000-\u001f\u007f]/;
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export type JsonLimits = { maxDepth: number; maxKeys: number; maxStringLength: number };
const DEFAULT_JSON_LIMITS: JsonLimits = { maxDepth: 32, maxKeys: 100_000, maxStringLength: 1_048_576 };

export type JsonProblem = { path: string; message: string };

/**
 * The first problem of a parsed JSON value against the rules: a prototype key, nesting deeper than
 * maxDepth, more than maxKeys keys and elements in all, a longer string, or a string holding a
 * control character other than tab, CR and LF (a NUL reaches wire protocols and C strings). Iterative and linear,
 * so a hostile document costs no more than reading it.
 */
export function inspectJson(value: unknown, limits: Partial<JsonLimits> = {}): JsonProblem | null {
  const { maxDepth, maxKeys, maxStringLength } = { ...DEFAULT_JSON_LIMITS, ...limits };
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: "", depth: 0 }];
  let seen = 0;
  while (stack.length) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === "string") {
      if (v.length > maxStringLength) return { path: path || "(body)", message: `text longer than ${maxStringLength} characters` };
      if (CONTROL_BUT_LINES.test(v)) return { path: path || "(body)", message: "must not contain control characters (NUL, escape, …); only tab and line breaks are allowed in text" };
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    if (depth >= maxDepth) return { path: path || "(body)", message: `nested deeper than ${maxDepth} levels` };
    if (Array.isArray(v)) {
      seen += v.length;
      if (seen > maxKeys) return { path: path || "(body)", message: `more than ${maxKeys} keys and elements` };
      v.forEach((item, i) => stack.push({ v: item, path: `${path}[${i}]`, depth: depth + 1 }));
      continue;
    }
    for (const key of Object.keys(v)) {
      const at = path ? `${path}.${key}` : key;
      if (isPrototypeKey(key)) return { path: at, message: `"${key}" is not allowed as a key (it names an object's prototype)` };
      if (++seen > maxKeys) return { path: path || "(body)", message: `more than ${maxKeys} keys and elements` };
      stack.push({ v: (v as Record<string, unknown>)[key], path: at, depth: depth + 1 });
    }
  }
  return null;
}


/**
 * Paths of strings holding control characters (a NUL or newline in a database or user name would
 * reach a wire protocol's startup message as a parameter). `multiline` names the paths that may
 * hold tab, CR and LF (a PEM certificate).
 */
export function controlCharacterPaths(value: unknown, multiline: ReadonlySet<string> = new Set(), path: (string | number)[] = []): (string | number)[][] {
  if (typeof value === "string") return (multiline.has(path.join(".")) ? CONTROL_BUT_LINES : CONTROL).test(value) ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => controlCharacterPaths(v, multiline, [...path, i]));
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => controlCharacterPaths(v, multiline, [...path, k]));
  return [];
}

/**
 * How to make rows keyed by these column names: plain objects (V8's fast path for the mapper's
 * reads) unless a column is called `__proto__`, whose assignment would set the row's prototype;
 * then null-prototype objects. (Reads of names Object.prototype has are own-property reads.)
 */
export function rowFactory<T = unknown>(names: readonly string[]): () => Record<string, T> {
  return names.includes("__proto__") ? bareObject<T> : () => ({}) as Record<string, T>;
}
