// The transform library: one entry per transform with its documentation (shown by the console as
// written here), the value kinds it accepts and produces, its arguments, and its implementation.
// Every transform except default, constant and template passes null through untouched. A failure
// on one row throws TransformError: a DATA error for that record only.
import crypto from "node:crypto";
import { z } from "zod";
import type { JsonValue, SourceRecord } from "../connectors/types.ts";
import { own } from "../json/safe.ts";

/** The kinds transforms accept and produce: a column's kind as its connector describes it. */
export type ValueKind = import("../connectors/types.ts").ColumnKind;
export type TransformFn = (value: JsonValue, row: SourceRecord) => JsonValue;

/**
 * A transform's failure on one value. The message quotes (the start of) the value; `redacted` is
 * the same without it, used when the column or field looks secret (as payloads are redacted).
 */
export class TransformError extends Error {
  readonly redacted: string;
  constructor(reason: string, value?: JsonValue, detail?: string) {
    super(`${reason}${detail ? ` (${detail})` : ""}${value === undefined ? "" : `: ${preview(value)}`}`);
    this.name = "TransformError";
    this.redacted = value === undefined && !detail ? reason : `${reason} (value redacted)`;
  }
}

export type TransformDef = {
  name: string;
  summary: string;
  example: string;
  /** Kinds of input it accepts ("any" for all). */
  accepts: ValueKind[] | "any";
  /** Kind it produces ("same" keeps its input's kind). */
  produces: ValueKind | "same" | "any";
  /** Whether the field needs a source column (constant and template make their value themselves). */
  needsSource: boolean;
  args: z.ZodType<Record<string, unknown>>;
  compile: (args: Record<string, unknown>, env: TransformEnv) => TransformFn;
};

export type TransformEnv = { hashSalt?: string };

const none = z.object({}).strict();
const fail = (reason: string, value?: JsonValue, detail?: string): never => {
  throw new TransformError(reason, value, detail);
};
function preview(v: JsonValue) {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
const nullSafe = (fn: (v: Exclude<JsonValue, null>, row: SourceRecord) => JsonValue): TransformFn => (v, row) => (v === null || v === undefined ? null : fn(v, row));

function toDate(v: JsonValue): Date {
  if (typeof v === "number") return new Date(v * 1000);
  if (typeof v === "string") {
    if (/^-?infinity$/.test(v)) fail("has no point in time", v);
    const d = new Date(/^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(v) ? `${v}Z` : v); // a timestamp without zone is taken as UTC
    if (!Number.isNaN(d.getTime())) return d;
  }
  return fail("not a date or time", v);
}

const defs: TransformDef[] = [
  {
    name: "json_parse",
    summary: "Parses JSON text into an object, array or value (jsonb columns pass through as they are).",
    example: '"{\\"a\\": 1}" → {"a": 1}',
    accepts: ["text", "json"],
    produces: "json",
    needsSource: true,
    args: none,
    compile: () =>
      nullSafe((v) => {
        if (typeof v !== "string") return v;
        try {
          return JSON.parse(v) as JsonValue;
        } catch (e) {
          return fail("invalid JSON", v, (e as Error).message.replace(/^JSON\.parse: /, ""));
        }
      }),
  },
  {
    name: "string",
    summary: "Converts to text; objects and arrays become their JSON text.",
    example: "42 → \"42\"",
    accepts: "any",
    produces: "text",
    needsSource: true,
    args: none,
    compile: () => nullSafe((v) => (typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v))),
  },
  {
    name: "number",
    summary: "Converts numeric text or a number to a JSON number (exact numerics may lose digits beyond 15-17).",
    example: '"12.50" → 12.5',
    accepts: ["text", "number"],
    produces: "number",
    needsSource: true,
    args: none,
    compile: () =>
      nullSafe((v) => {
        const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
        return Number.isFinite(n) ? n : fail("not a finite number", v);
      }),
  },
  {
    name: "integer",
    summary: "Converts to a whole JSON number; fails on fractions and on integers beyond ±2^53.",
    example: '"42" → 42',
    accepts: ["text", "number"],
    produces: "number",
    needsSource: true,
    args: none,
    compile: () =>
      nullSafe((v) => {
        const n = typeof v === "number" ? v : typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
        if (!Number.isInteger(n)) return fail("not an integer", v);
        return Number.isSafeInteger(n) ? n : fail("integer beyond ±2^53 cannot be exact in JSON; keep it as text", v);
      }),
  },
  {
    name: "boolean",
    summary: "Converts true/false, t/f, yes/no, on/off, 1/0 (any case) to a boolean.",
    example: '"yes" → true',
    accepts: ["text", "number", "boolean"],
    produces: "boolean",
    needsSource: true,
    args: none,
    compile: () =>
      nullSafe((v) => {
        if (typeof v === "boolean") return v;
        const s = String(v).trim().toLowerCase();
        if (["true", "t", "yes", "y", "on", "1"].includes(s)) return true;
        if (["false", "f", "no", "n", "off", "0"].includes(s)) return false;
        return fail("not a boolean", v);
      }),
  },
  {
    name: "trim",
    summary: "Removes leading and trailing white space.",
    example: '"  Ada " → "Ada"',
    accepts: ["text"],
    produces: "text",
    needsSource: true,
    args: none,
    compile: () => nullSafe((v) => (typeof v === "string" ? v.trim() : fail("trim needs text", v))),
  },
  {
    name: "lowercase",
    summary: "Lower-cases text.",
    example: '"Ada@Example.COM" → "ada@example.com"',
    accepts: ["text"],
    produces: "text",
    needsSource: true,
    args: none,
    compile: () => nullSafe((v) => (typeof v === "string" ? v.toLowerCase() : fail("lowercase needs text", v))),
  },
  {
    name: "uppercase",
    summary: "Upper-cases text.",
    example: '"de" → "DE"',
    accepts: ["text"],
    produces: "text",
    needsSource: true,
    args: none,
    compile: () => nullSafe((v) => (typeof v === "string" ? v.toUpperCase() : fail("uppercase needs text", v))),
  },
  {
    name: "iso_timestamp",
    summary: "Converts a date, time stamp or epoch seconds to an ISO 8601 UTC time stamp (millisecond precision).",
    example: "1700000000 → \"2023-11-14T22:13:20.000Z\"",
    accepts: ["time", "text", "number"],
    produces: "text",
    needsSource: true,
    args: none,
    compile: () => nullSafe((v) => toDate(v).toISOString()),
  },
  {
    name: "epoch_seconds",
    summary: "Converts a date or time stamp to seconds since 1970-01-01 UTC (with fractions).",
    example: '"2023-11-14T22:13:20Z" → 1700000000',
    accepts: ["time", "text"],
    produces: "number",
    needsSource: true,
    args: none,
    compile: () => nullSafe((v) => toDate(v).getTime() / 1000),
  },
  {
    name: "epoch_millis",
    summary: "Converts a date or time stamp to milliseconds since 1970-01-01 UTC.",
    example: '"2023-11-14T22:13:20Z" → 1700000000000',
    accepts: ["time", "text"],
    produces: "number",
    needsSource: true,
    args: none,
    compile: () => nullSafe((v) => toDate(v).getTime()),
  },
  {
    name: "sha256",
    summary: "Replaces a value (PII) by the hex SHA-256 of the operator's salt (ECM_HASH_SALT) and the value's text.",
    example: '"ada@example.com" → "5f1c…"',
    accepts: "any",
    produces: "text",
    needsSource: true,
    args: none,
    compile: (_args, env) => {
      const salt = env.hashSalt;
      if (!salt) throw new Error("sha256 needs ECM_HASH_SALT set for the product (a secret salt, so hashes cannot be reversed by guessing)");
      return nullSafe((v) =>
        crypto
          .createHash("sha256")
          .update(salt)
          .update(typeof v === "string" ? v : JSON.stringify(v))
          .digest("hex"),
      );
    },
  },
  {
    name: "mask",
    summary: "Hides all but the last keep_last characters (default 4) behind char (default *).",
    example: '"4111111111111111" → "************1111"',
    accepts: ["text", "number"],
    produces: "text",
    needsSource: true,
    args: z.object({ keep_last: z.number().int().min(0).max(64).default(4), char: z.string().length(1).default("*") }).strict(),
    compile: (args) => {
      const keep = args.keep_last as number;
      const ch = args.char as string;
      return nullSafe((v) => {
        const s = [...String(v)];
        return ch.repeat(Math.max(0, s.length - keep)) + s.slice(Math.max(0, s.length - keep)).join("");
      });
    },
  },
  {
    name: "default",
    summary: "Replaces NULL by value; other values pass unchanged.",
    example: 'null → "unknown" (with {"name": "default", "value": "unknown"})',
    accepts: "any",
    produces: "same",
    needsSource: true,
    args: z.object({ value: z.unknown().refine((v) => v !== undefined, "value is required") }).strict(),
    compile: (args) => {
      const fallback = args.value as JsonValue;
      return (v) => (v === null || v === undefined ? fallback : v);
    },
  },
  {
    name: "constant",
    summary: "Always value, whatever the row holds (no source column needed).",
    example: '{"name": "constant", "value": "crm"} → "crm"',
    accepts: "any",
    produces: "any",
    needsSource: false,
    args: z.object({ value: z.unknown().refine((v) => v !== undefined, "value is required") }).strict(),
    compile: (args) => {
      const value = args.value as JsonValue;
      return () => value;
    },
  },
  {
    name: "template",
    summary: "Text built from columns of the row: {column} is replaced by its value, NULL by an empty string.",
    example: '{"name": "template", "template": "{first_name} {last_name}"} → "Ada Lovelace"',
    accepts: "any",
    produces: "text",
    needsSource: false,
    args: z.object({ template: z.string().min(1).max(1000) }).strict(),
    compile: (args) => {
      const parts = String(args.template).split(/(\{[A-Za-z_][A-Za-z0-9_]*\})/);
      return (_v, row) => {
        let out = "";
        for (const p of parts) {
          if (p.startsWith("{") && p.endsWith("}")) {
            const value = own<JsonValue>(row, p.slice(1, -1));
            out += value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
          } else out += p;
        }
        return out;
      };
    },
  },
  {
    name: "json_path",
    summary: "Picks a value out of JSON with a path like $.address.city or $.tags[0]; missing gives NULL.",
    example: '{"name": "json_path", "path": "$.a.b"}: {"a": {"b": 2}} → 2',
    accepts: ["json", "text"],
    produces: "any",
    needsSource: true,
    args: z.object({ path: z.string().regex(/^\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$/, "a path like $.a.b or $.items[0].id") }).strict(),
    compile: (args) => {
      const steps = [...String(args.path).matchAll(/\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]/g)].map((m) => (m[1] !== undefined ? m[1] : Number(m[2])));
      return nullSafe((v) => {
        let cur: JsonValue = v;
        if (typeof cur === "string") {
          try {
            cur = JSON.parse(cur) as JsonValue;
          } catch {
            return fail("json_path needs JSON", v);
          }
        }
        for (const step of steps) {
          if (cur === null || typeof cur !== "object") return null;
          cur = (Array.isArray(cur) ? (typeof step === "number" ? cur[step] : undefined) : own<JsonValue>(cur, step as string)) ?? null;
        }
        return cur;
      });
    },
  },
];

export const TRANSFORMS: ReadonlyMap<string, TransformDef> = new Map(defs.map((d) => [d.name, d]));

