// Opaque list cursors: a tuple of strings (the last row's sort key) as base64url JSON. Clients
// pass them back unchanged; anything else is a field-path error at `cursor`.
import { AppError } from "./errors/app-error.ts";

export function encodeCursor(parts: string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString("base64url");
}

export function decodeCursor(cursor: string, length?: number): string[] {
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === "string") && (length === undefined || v.length === length)) return v;
  } catch {
    /* fall through */
  }
  throw AppError.invalid([{ path: "cursor", message: "not a cursor returned by this list" }]);
}
