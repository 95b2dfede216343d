// MySQL and MariaDB values → exact JSON values, one rule per type for the snapshot (the text
// protocol's bytes) and the binlog (what the binlog reader decodes) alike, so a row read either
// way is the same JSON (docs/types.md, the MySQL table). Session assumed: time_zone '+00:00'
// (connection.ts); the binlog reader runs with dateStrings and timezone 'Z' (changes.ts).
import type { ColumnKind, JsonValue } from "../types.ts";

/** What decoding needs of a column (from information_schema.COLUMNS, see catalog.ts). */
export type MysqlColumn = {
  name: string;
  /** DATA_TYPE, lower case: int, bigint, decimal, datetime, json, … */
  dataType: string;
  /** COLUMN_TYPE as the server prints it: `int(10) unsigned`, `enum('a','b')`, `bit(3)`. */
  columnType: string;
  /** JSON: MySQL's own type, or MariaDB's LONGTEXT with a json_valid() check. */
  json: boolean;
  /** BIT(n)'s n. */
  bits: number;
};

/**
 * What a row read by SQL holds for a column: the server's bytes (read with typeCast off), or, read
 * with TEXT_AS_VALUES, the value mysql2 makes of its text without rounding: a string (text,
 * decimals, dates and times, BIGINT, JSON), an integer (the smaller integer types, exact), a number
 * (FLOAT and DOUBLE, parsed from the server's shortest text exactly as Number() would) or bytes
 * (binary strings, BIT).
 */
export type RowValue = Buffer | string | number;

export type Decoder = { fromText(raw: RowValue): JsonValue; fromBinlog(value: unknown): JsonValue; kind: ColumnKind };

/**
 * mysql2's query options that hand every value over as a RowValue without a Buffer per field
 * (measured: a fifth of a snapshot's CPU went to collecting them). Only for the types below, whose
 * mysql2 values are known exact; a table with any other column (geometry and vectors come back as
 * decoded objects, and a type newer than this list is unknown) is read as bytes (needsBytes).
 */
export const TEXT_AS_VALUES = { typeCast: true, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true, jsonStrings: true, decimalNumbers: false } as const;

const EXACT_AS_VALUES = new Set([
  ...["tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float", "double", "real", "year"],
  ...["date", "datetime", "timestamp", "time", "json", "bit", "enum", "set"],
  ...["char", "varchar", "tinytext", "text", "mediumtext", "longtext", "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"],
]);

/** Whether rows of these columns must be read as the server's bytes (typeCast off). */
export const needsBytes = (columns: MysqlColumn[]) => columns.some((c) => !EXACT_AS_VALUES.has(c.dataType));

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** BIGINT (signed or not): a JSON number when exactly representable, else its decimal string. */
export function bigint(text: string): JsonValue {
  if (text.length < 16) return Number(text);
  const n = BigInt(text);
  return n <= MAX_SAFE && n >= -MAX_SAFE ? Number(n) : text;
}

/**
 * FLOAT: the shortest decimal that is the same single-precision value (the binlog gives the
 * float widened to a double, 3.141590118408203; the text protocol "3.14159": both become 3.14159).
 */
export function float32(value: number): number {
  if (!Number.isFinite(value)) return value;
  const f = Math.fround(value);
  for (let p = 1; p <= 9; p++) {
    const n = Number(f.toPrecision(p));
    if (Math.fround(n) === f) return n;
  }
  return f;
}

/** DATETIME: `2024-01-02T03:04:05.123456` (the column's fractional digits, nothing shifted; a zero date as MySQL has it). */
export const datetime = (text: string) => (text.length > 10 && text.charCodeAt(10) === 32 ? `${text.slice(0, 10)}T${text.slice(11)}` : text);
/** TIMESTAMP, read in UTC: `2024-01-02T03:04:05.123456Z`. */
export const timestamp = (text: string) => `${datetime(text)}Z`;

/**
 * The binlog keeps a TIMESTAMP as seconds since the epoch, so the zero TIMESTAMP arrives as the
 * epoch itself, which no real TIMESTAMP can be (they start a second later): it is the zero value.
 */
export const binlogTimestamp = (text: string) => timestamp(/^1970-01-01 00:00:00(\.0+)?$/.test(text) ? `0000-00-00 00:00:00${text.slice(19)}` : text);

/** BIT(n) as its n binary digits, most significant first (PostgreSQL's bit text form). */
export function bits(bytes: Buffer, n: number): string {
  let s = "";
  for (const b of bytes) s += b.toString(2).padStart(8, "0");
  return s.slice(-n).padStart(n, "0");
}

/** SET: its members, in the order the server gives them (members cannot contain commas). */
export const setMembers = (text: string): string[] => (text === "" ? [] : text.split(","));

const utf8 = (raw: Buffer) => raw.toString("utf8");
const str = (raw: RowValue) => (typeof raw === "string" ? raw : Buffer.isBuffer(raw) ? utf8(raw) : String(raw));
const bytes = (raw: RowValue) => (Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw), "utf8"));
/** A number read as a value (the smaller integers, FLOAT, DOUBLE, YEAR) or as its text. */
const num = (raw: RowValue) => (typeof raw === "number" ? raw : Number(str(raw)));

/** The decoder of a column: its kind for the mapping, and its two decoding paths. */
export function decoderFor(c: MysqlColumn): Decoder {
  const text = (kind: ColumnKind, fromString: (s: string) => JsonValue): Decoder => ({
    kind,
    fromText: (raw) => fromString(str(raw)),
    fromBinlog: (v) => fromString(typeof v === "string" ? v : Buffer.isBuffer(v) ? utf8(v) : String(v)),
  });
  if (c.json) {
    // MariaDB's JSON arrives as its text in both paths; MySQL's binary JSON is decoded by the reader (an object).
    const parse = (s: string) => JSON.parse(s) as JsonValue;
    return { kind: "json", fromText: (raw) => parse(str(raw)), fromBinlog: (v) => (typeof v === "string" ? parse(v) : Buffer.isBuffer(v) ? parse(utf8(v)) : (v as JsonValue)) };
  }
  switch (c.dataType) {
    case "tinyint":
    case "smallint":
    case "mediumint":
    case "int":
    case "integer":
      return { ...text("number", Number), fromText: num };
    case "bigint":
      return text("number", bigint);
    case "decimal":
    case "numeric":
      return text("number", (s) => s); // exact: its decimal text
    case "float":
      return { ...text("number", (s) => float32(Number(s))), fromText: (raw) => float32(num(raw)) };
    case "double":
    case "real":
      return { kind: "number", fromText: num, fromBinlog: (v) => Number(v) };
    case "year":
      // YEAR 0000 is 0; the binlog reader decodes it as 1900 (1901 is YEAR's first real year).
      return { ...text("number", (s) => (Number(s) === 1900 ? 0 : Number(s))), fromText: num };
    case "date":
      return text("time", (s) => s);
    case "datetime":
      return text("time", datetime);
    case "timestamp": {
      const d = text("time", timestamp);
      return { ...d, fromBinlog: (v) => binlogTimestamp(typeof v === "string" ? v : String(v)) };
    }
    case "time":
      return text("text", (s) => s); // an interval up to ±838:59:59.999999, as MySQL writes it
    case "bit": {
      const n = c.bits;
      return { kind: "text", fromText: (raw) => bits(bytes(raw), n), fromBinlog: (v) => bits(Buffer.isBuffer(v) ? v : Buffer.from(BigInt(v as number).toString(16).padStart(2, "0"), "hex"), n) };
    }
    case "set":
      return text("array", setMembers);
    case "binary":
    case "varbinary":
    case "tinyblob":
    case "blob":
    case "mediumblob":
    case "longblob":
    case "geometry":
    case "point":
    case "linestring":
    case "polygon":
    case "multipoint":
    case "multilinestring":
    case "multipolygon":
    case "geometrycollection":
    case "geomcollection": // MySQL 8's DATA_TYPE for GEOMETRYCOLLECTION
      return {
        kind: "bytes",
        fromText: (raw) => bytes(raw).toString("base64"),
        fromBinlog: (v) => bytes(Buffer.isBuffer(v) ? v : String(v)).toString("base64"),
      };
    default:
      // char, varchar, text, enum, and anything newer: its text.
      return text("text", (s) => s);
  }
}
