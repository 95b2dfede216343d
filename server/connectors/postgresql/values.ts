// PostgreSQL text representations → exact JSON values, chosen once for snapshot and CDC alike
// (docs/types.md). Driven by the server's own type catalog, so domains, enums and arrays of any
// of them resolve to their base parsers; a type we do not know becomes its text form, with a
// warning, never a crash. Session settings assumed (see connection.ts): TimeZone=UTC,
// DateStyle=ISO, IntervalStyle=iso_8601, bytea_output=hex, extra_float_digits=3.
import type { JsonValue } from "../types.ts";
import { jsonFromText } from "../../json/json-text.ts";

export type PgTypeInfo = {
  oid: number;
  name: string;
  /** pg_type.typtype: b base, d domain, e enum, c composite, r range, m multirange, p pseudo. */
  kind: string;
  /** pg_type.typcategory: A array, S string, N numeric, ... */
  category: string;
  elem: number;
  base: number;
  delim: string;
};

export type ValueParser = (text: string) => JsonValue;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** int8: a JSON number when exactly representable, else its decimal string (never rounded). */
export function parseInt8(text: string): JsonValue {
  if (text.length < 16) return Number(text); // at most 15 digits: always exact
  const n = BigInt(text);
  return n <= MAX_SAFE && n >= -MAX_SAFE ? Number(n) : text;
}

/** float4/float8: numbers; NaN and ±Infinity, which JSON cannot hold, as the strings PostgreSQL uses. */
export function parseFloat(text: string): JsonValue {
  if (text === "NaN" || text === "Infinity" || text === "-Infinity") return text;
  return Number(text);
}

/** bytea in hex output (`\x4869`) → base64. */
export function parseBytea(text: string): JsonValue {
  return Buffer.from(text.startsWith("\\x") ? text.slice(2) : text, "hex").toString("base64");
}

/** Years BC as ISO 8601's astronomical years (1 BC = 0000, 44 BC = -0043). */
function isoBc(s: string): string {
  const dash = s.indexOf("-", 1);
  const year = Number(s.slice(0, dash));
  const astro = 1 - year;
  const sign = astro <= 0 ? (astro === 0 ? "" : "-") : "";
  return `${sign}${String(Math.abs(astro)).padStart(4, "0")}${s.slice(dash)}`;
}

export function parseDate(text: string): JsonValue {
  if (text === "infinity" || text === "-infinity") return text;
  return text.endsWith(" BC") ? isoBc(text.slice(0, -3)) : text;
}

/** timestamp: `2024-01-02T03:04:05.123456`, no zone, nothing shifted. */
export function parseTimestamp(text: string): JsonValue {
  if (text.length > 10 && text.charCodeAt(10) === 32 && !text.endsWith(" BC")) return `${text.slice(0, 10)}T${text.slice(11)}`;
  if (text === "infinity" || text === "-infinity") return text;
  const bc = text.endsWith(" BC");
  const iso = (bc ? text.slice(0, -3) : text).replace(" ", "T");
  return bc ? isoBc(iso) : iso;
}

/** timestamptz in a UTC session: `2024-01-02T03:04:05.123456Z` (microseconds kept). */
export function parseTimestamptz(text: string): JsonValue {
  // Hot path (every row of a typical table): "YYYY-MM-DD HH:MM:SS[.ffffff]+00" without a regex.
  if (text.length > 13 && text.charCodeAt(10) === 32 && text.endsWith("+00")) return `${text.slice(0, 10)}T${text.slice(11, -3)}Z`;
  if (text === "infinity" || text === "-infinity") return text;
  const bc = text.endsWith(" BC");
  let iso = (bc ? text.slice(0, -3) : text).replace(" ", "T");
  iso = iso.replace(/\+00(:00)?$/, "Z");
  return bc ? isoBc(iso) : iso;
}

/**
 * An array literal (`{1,2}`, `{{a,NULL},{"b c",d}}`, `[0:1]={x,y}`) → nested JSON arrays,
 * each element through the element type's parser; NULL elements stay null.
 */
export function parseArray(text: string, element: ValueParser, delim = ","): JsonValue {
  let i = 0;
  if (text[0] === "[") i = text.indexOf("=") + 1; // explicit bounds: the data follows '='
  function parseLevel(): JsonValue[] {
    const out: JsonValue[] = [];
    i++; // '{'
    if (text[i] === "}") {
      i++;
      return out;
    }
    for (;;) {
      if (text[i] === "{") {
        out.push(parseLevel());
      } else if (text[i] === '"') {
        i++;
        let s = "";
        while (text[i] !== '"') {
          if (text[i] === "\\") i++;
          s += text[i++];
        }
        i++;
        out.push(element(s));
      } else {
        const start = i;
        while (text[i] !== delim && text[i] !== "}") i++;
        const raw = text.slice(start, i);
        out.push(raw === "NULL" ? null : element(raw));
      }
      if (text[i] === delim) {
        i++;
        continue;
      }
      i++; // '}'
      return out;
    }
  }
  return parseLevel();
}

const identity: ValueParser = (t) => t;

/** A large jsonb document stays its text on its way to the store (json/json-text.ts); others are parsed. */
const parseJsonb = (t: string) => jsonFromText(t) as JsonValue;

const BASE_PARSERS: Record<number, ValueParser> = {
  16: (t) => t === "t", // bool
  17: parseBytea,
  20: parseInt8,
  21: Number, // int2
  23: Number, // int4
  26: Number, // oid
  700: parseFloat,
  701: parseFloat,
  114: (t) => JSON.parse(t) as JsonValue, // json (its text may hold what jsonb refuses: always parsed)
  3802: parseJsonb, // jsonb
  1082: parseDate,
  1114: parseTimestamp,
  1184: parseTimestamptz,
  // Kept as text on purpose: exact (numeric, money), or text by nature.
  1700: identity, // numeric, exact
  790: identity, // money
  1083: identity, // time
  1266: identity, // timetz
  1186: identity, // interval, ISO 8601 (IntervalStyle=iso_8601)
  2950: identity, // uuid
  869: identity, // inet
  650: identity, // cidr
  829: identity, // macaddr
  774: identity, // macaddr8
  1560: identity, // bit
  1562: identity, // varbit
  142: identity, // xml
  3614: identity, // tsvector
  3615: identity, // tsquery
  18: identity, // "char"
  19: identity, // name
  25: identity, // text
  1042: identity, // bpchar
  1043: identity, // varchar
};

/** Resolves parsers from a type catalog (pg_type). Memoized; warns once per unknown type. */
export class ValueParsers {
  private readonly cache = new Map<number, ValueParser>();
  private readonly warned = new Set<number>();

  constructor(
    private readonly types: Map<number, PgTypeInfo>,
    private readonly warn: (message: string) => void = () => {},
  ) {}

  typeName(oid: number): string {
    return this.types.get(oid)?.name ?? `oid ${oid}`;
  }

  parser(oid: number): ValueParser {
    let p = this.cache.get(oid);
    if (!p) {
      p = this.resolve(oid, 0);
      this.cache.set(oid, p);
    }
    return p;
  }

  private resolve(oid: number, depth: number): ValueParser {
    const known = BASE_PARSERS[oid];
    if (known) return known;
    const t = this.types.get(oid);
    if (t && depth < 10) {
      if (t.kind === "d") return this.resolve(t.base, depth + 1);
      if (t.kind === "e") return identity;
      if (t.category === "A" && t.elem) {
        const element = this.resolve(t.elem, depth + 1);
        const delim = this.types.get(t.elem)?.delim || ",";
        return (text) => parseArray(text, element, delim);
      }
      if (t.category === "S") return identity;
    }
    return (text) => {
      if (!this.warned.has(oid)) {
        this.warned.add(oid);
        this.warn(`type ${this.typeName(oid)} has no exact JSON form; its values are kept as PostgreSQL's text`);
      }
      return text;
    };
  }
}

export const TYPE_CATALOG_SQL = `SELECT oid::int AS oid, format_type(oid, NULL) AS name, typtype AS kind, typcategory AS category,
  typelem::int AS elem, typbasetype::int AS base, typdelim AS delim FROM pg_type`;

export function typeMap(rows: PgTypeInfo[]): Map<number, PgTypeInfo> {
  return new Map(rows.map((r) => [r.oid, r]));
}
