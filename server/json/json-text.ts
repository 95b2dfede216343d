// A large json/jsonb value carried as the source's JSON text, never parsed on its way to the store.
//
// A 50 MB document parsed into objects and serialised again costs the worker its size several
// times over (the objects, the new text, the statement around it, the protocol's buffer). Carried
// as text, it costs its text: the mapping passes it through untouched unless a transform needs
// the value (then it is parsed for that transform), and the store's writer copies the text into
// its COPY stream in slices (store/contexts.ts). Anywhere else, JSON.stringify sees the value
// through toJSON() and gets the parsed document, so every other consumer (dead letters, previews,
// API responses) is correct without knowing about it.
//
// The source's text is valid JSON by construction (PostgreSQL checks json on input and prints
// jsonb itself); U+0000, which jsonb cannot hold, is checked for by the writer as for any value.
// A connector that receives the text as UTF-8 bytes may hand those over (jsonFromBytes): they
// are written as they came, never decoded into a string (a 50 MB value would be its size twice:
// the bytes, then the string made from them), and decoded only where a value is needed.

import { isUtf8 } from "node:buffer";
import { holdsNulEscape, holdsUnstorableEscape } from "./safe.ts";

/** Values at least this long (characters of JSON text) are carried as text. */
export const LARGE_JSON_CHARS = 1 << 20;
/** Values at least this long in bytes are handed over as their bytes by a connector that receives bytes. */
export const LARGE_VALUE_BYTES = 1 << 20;

/** JSON text, as a string or as its UTF-8 bytes. */
export type JsonSource = string | Buffer;

/** While a serialisation keeps texts apart (serializeKeepingText), the texts it met, in order. */
let keeping: JsonSource[] | null = null;

// A placeholder cannot be confused with a value the store accepts: it holds U+0000, which jsonb
// refuses anywhere (and the writer refuses a record whose text holds a stray one).
const MARK = "\u0000ecm-json-text:";
const PLACEHOLDER = /"\\u0000ecm-json-text:(\d+)\\u0000"/g;

export class JsonText {
  constructor(readonly source: JsonSource) {}

  /** The parsed document (what a transform, a preview or a dead letter sees). */
  value(): unknown {
    return JSON.parse(typeof this.source === "string" ? this.source : this.source.toString("utf8"));
  }

  toJSON(): unknown {
    if (keeping) return `${MARK}${keeping.push(this.source) - 1}\u0000`;
    return this.value();
  }
}

/** A document from JSON text: carried as the text when it is large, else parsed. */
export function jsonFromText(text: string): unknown {
  return text.length >= LARGE_JSON_CHARS ? new JsonText(text) : JSON.parse(text);
}

/**
 * A document from JSON text's bytes: carried as those bytes when large and valid UTF-8, else as
 * text decoded as any value is (invalid sequences become U+FFFD, as the store could not take them).
 */
export function jsonFromBytes(bytes: Buffer): unknown {
  if (bytes.length >= LARGE_VALUE_BYTES && isUtf8(bytes)) return new JsonText(bytes);
  return jsonFromText(bytes.toString("utf8"));
}

const NUL_ESCAPE_BYTES = Buffer.from("\\u0000");
const BACKSLASH = 0x5c;

/** Whether JSON text holds a U+0000 escape: `\u0000` not itself escaped (an even run of backslashes before it). */
function holdsNul(source: JsonSource): boolean {
  if (typeof source === "string") return holdsNulEscape(source);
  for (let at = source.indexOf(NUL_ESCAPE_BYTES); at !== -1; at = source.indexOf(NUL_ESCAPE_BYTES, at + 1)) {
    let before = 0;
    while (at - before - 1 >= 0 && source[at - before - 1] === BACKSLASH) before++;
    if (before % 2 === 0) return true;
  }
  return false;
}

/** A value as a transform takes it: the parsed document for carried text, anything else as it is. */
export function materialize<T>(value: T): Exclude<T, JsonText> {
  return (value instanceof JsonText ? value.value() : value) as Exclude<T, JsonText>;
}

/** An object graph as JSON.stringify would serialise it, with every carried text left as its own piece. */
export type JsonPieces = JsonSource[];

// Reused by every call (the hot path serialises millions of rows that carry no text).
const met: JsonSource[] = [];

/**
 * Serialises `value` as JSON.stringify does, except that carried texts are not parsed: the JSON
 * itself when it carries none, else the JSON as pieces (the serialisation's own text between the
 * carried texts) which joined give the document. Null when it holds U+0000 or a lone surrogate
 * (jsonb can store neither).
 */
export function serializeKeepingText(value: unknown): string | JsonPieces | null {
  met.length = 0;
  keeping = met;
  let json: string;
  try {
    json = JSON.stringify(value);
  } finally {
    keeping = null;
  }
  if (!met.length) return holdsUnstorableEscape(json) ? null : json;
  const texts = met.splice(0); // the shared array keeps no text alive after the call
  const pieces: JsonSource[] = [];
  let at = 0;
  let next = 0;
  for (const m of json.matchAll(PLACEHOLDER)) {
    // Placeholders appear in the order their texts were met; anything else is a value that only
    // looks like one (it holds U+0000, so the store would refuse it anyway).
    if (Number(m[1]) !== next) return null;
    pieces.push(json.slice(at, m.index), texts[next++]!);
    at = m.index + m[0].length;
  }
  if (next !== texts.length) return null;
  pieces.push(json.slice(at));
  // The serialisation's own text (even pieces) is JSON.stringify's; a carried text is the source's
  // JSON, where a pair may be written as two escapes: only its U+0000 is looked for.
  return pieces.some((piece, i) => (i % 2 === 0 ? holdsUnstorableEscape(piece as string) : holdsNul(piece))) ? null : pieces;
}

/**
 * A deep copy of a context's data that shares carried texts (never changed: a string is
 * immutable, and bytes are a large message's own buffer, which nothing writes into again) instead of
 * turning them into plain objects as structuredClone would.
 */
export function cloneData<T>(value: T): T {
  if (value === null || typeof value !== "object" || value instanceof JsonText) return value;
  if (Array.isArray(value)) return value.map(cloneData) as T;
  const out = Object.create(Object.getPrototypeOf(value)) as Record<string, unknown>;
  for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: cloneData(v), enumerable: true, writable: true, configurable: true });
  return out as T;
}
