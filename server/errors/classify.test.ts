import { describe, expect, it } from "vitest";
import { AppError } from "./app-error.ts";
import { backoffDelay, classify, DEFAULT_BACKOFF } from "./classify.ts";
import { MappingDataError } from "../mapping/compile.ts";

const pgError = (code: string, message = "x") => Object.assign(new Error(message), { code });

describe("classify: the category table (docs/errors.md), case by case", () => {
  it.each([
    // TRANSIENT: the same operation may succeed later
    ["08006 connection failure", pgError("08006"), "TRANSIENT"],
    ["08001 cannot connect now", pgError("08001"), "TRANSIENT"],
    ["40001 serialization failure", pgError("40001"), "TRANSIENT"],
    ["40P01 deadlock", pgError("40P01"), "TRANSIENT"],
    ["53300 too many connections", pgError("53300"), "TRANSIENT"],
    ["53100 disk full", pgError("53100"), "TRANSIENT"],
    ["57P01 admin shutdown", pgError("57P01"), "TRANSIENT"],
    ["57P03 cannot connect now (starting up)", pgError("57P03"), "TRANSIENT"],
    ["57014 statement timeout", pgError("57014"), "TRANSIENT"],
    ["55006 slot in use by another connection", pgError("55006"), "TRANSIENT"],
    ["55P03 lock not available", pgError("55P03"), "TRANSIENT"],
    ["58030 I/O error", pgError("58030"), "TRANSIENT"],
    ["ECONNREFUSED", pgError("ECONNREFUSED"), "TRANSIENT"],
    ["ECONNRESET", pgError("ECONNRESET"), "TRANSIENT"],
    ["ETIMEDOUT", pgError("ETIMEDOUT"), "TRANSIENT"],
    ["ENOTFOUND (DNS)", pgError("ENOTFOUND"), "TRANSIENT"],
    ["EAI_AGAIN (DNS)", pgError("EAI_AGAIN"), "TRANSIENT"],
    ["connection terminated", new Error("Connection terminated unexpectedly"), "TRANSIENT"],
    // CONFIGURATION: an operator must change something
    ["28P01 wrong password", pgError("28P01"), "CONFIGURATION"],
    ["28000 pg_hba.conf", pgError("28000"), "CONFIGURATION"],
    ["3D000 database missing", pgError("3D000"), "CONFIGURATION"],
    ["3F000 schema missing", pgError("3F000"), "CONFIGURATION"],
    ["42P01 table missing", pgError("42P01"), "CONFIGURATION"],
    ["42703 column missing", pgError("42703"), "CONFIGURATION"],
    ["42501 privilege", pgError("42501"), "CONFIGURATION"],
    ["42704 publication or slot missing", pgError("42704"), "CONFIGURATION"],
    ["55000 wal_level / prerequisite state", pgError("55000"), "CONFIGURATION"],
    ["53400 max_replication_slots", pgError("53400"), "CONFIGURATION"],
    ["TLS certificate", new Error("self-signed certificate in certificate chain"), "CONFIGURATION"],
    // DATA: this record only
    ["22P02 invalid text", pgError("22P02"), "DATA"],
    ["22003 out of range", pgError("22003"), "DATA"],
    ["23505 unique violation", pgError("23505"), "DATA"],
    ["a transform failing for one record", new MappingDataError("data.x: json_parse failed", "data.x", 1, "json_parse"), "DATA"],
    // FATAL: cannot continue
    ["XX001 data corrupted", pgError("XX001"), "FATAL"],
    ["an unknown SQLSTATE", pgError("P0001"), "FATAL"],
    ["a bug", new TypeError("cannot read properties of undefined"), "FATAL"],
  ])("%s → %s", (_name, error, category) => {
    expect(classify(error).category).toBe(category);
  });

  it("keeps the category the product already gave", () => {
    expect(classify(new AppError("CONFLICT", "slot lost", { category: "FATAL" })).category).toBe("FATAL");
    expect(classify(new AppError("SERVICE_UNAVAILABLE", "unreachable", { category: "TRANSIENT" })).category).toBe("TRANSIENT");
    expect(classify(new AppError("BAD_REQUEST", "bad password", { category: "CONFIGURATION" })).category).toBe("CONFIGURATION");
  });
});

describe("backoff: initial 1 s, factor 2, at most 5 min, ±20 % jitter", () => {
  it("doubles from one second and stops at five minutes", () => {
    const mid = () => 0.5; // no jitter
    expect([1, 2, 3, 4, 5, 6, 9, 10, 20].map((n) => backoffDelay(n, DEFAULT_BACKOFF, mid))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 256000, 300000, 300000]);
  });
  it("spreads retries by the jitter and never past the cap", () => {
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0)).toBe(3200);
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 1)).toBe(4800);
    expect(backoffDelay(30, DEFAULT_BACKOFF, () => 1)).toBe(300000);
    expect(backoffDelay(30, DEFAULT_BACKOFF, () => 0)).toBe(240000);
  });
});

describe("classify: the store's errors are the store's, whichever way they reach the store", () => {
  // The shapes Prisma 7 throws through @prisma/adapter-pg (seen against a closed port and a live server).
  const prismaError = (code: string, cause: object) => Object.assign(new Error("Invalid `prisma.run.update()` invocation"), { name: "PrismaClientKnownRequestError", code, meta: { driverAdapterError: { name: "DriverAdapterError", cause } } });

  it.each([
    ["the store unreachable", prismaError("P1001", { kind: "DatabaseNotReachable", host: "127.0.0.1", port: 5432 }), "TRANSIENT"],
    ["the store closing the connection", prismaError("P1017", { kind: "ConnectionClosed" }), "TRANSIENT"],
    ["a raw query's deadlock (P2010 carrying 40P01)", prismaError("P2010", { kind: "postgres", code: "40P01", originalCode: "40P01" }), "TRANSIENT"],
    ["a raw query's statement timeout", prismaError("P2010", { kind: "postgres", code: "57014" }), "TRANSIENT"],
    ["the store's pool exhausted", Object.assign(new Error("Timed out fetching a new connection"), { name: "PrismaClientKnownRequestError", code: "P2024" }), "TRANSIENT"],
    ["the store out of connections", prismaError("P2037", { kind: "TooManyConnections" }), "TRANSIENT"],
    ["the store refusing DATABASE_URL's password", prismaError("P1000", { kind: "AuthenticationFailed", user: "ecm" }), "CONFIGURATION"],
    // A constraint the store refuses is the product's bug, never one record's DATA error.
    ["a unique violation in the store", prismaError("P2002", { kind: "UniqueConstraintViolation", originalCode: "23505" }), "FATAL"],
    ["a value the store refuses", prismaError("P2010", { kind: "postgres", code: "22012" }), "FATAL"],
    ["Prisma's initialization failing to connect", Object.assign(new Error("Can't reach database server"), { name: "PrismaClientInitializationError", errorCode: "P1001" }), "TRANSIENT"],
    ["an unknown Prisma failure", Object.assign(new Error("?"), { name: "PrismaClientUnknownRequestError" }), "FATAL"],
  ])("%s → %s, origin store", (_name, error, category) => {
    expect(classify(error)).toMatchObject({ category, origin: "store" });
  });
});
