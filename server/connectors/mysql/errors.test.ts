import { describe, expect, it } from "vitest";
import { classifyMysqlError } from "./errors.ts";

describe("MySQL errors", () => {
  it("classifies mysql2's codes as they should be, and unknown server errors by SQLSTATE class, never FATAL by default", () => {
    const of = (e: object) => classifyMysqlError(e)?.category;
    expect(of({ code: "PROTOCOL_CONNECTION_LOST", fatal: true })).toBe("TRANSIENT");
    expect(of({ code: "ECONNRESET" })).toBe("TRANSIENT");
    expect(of({ code: "ER_LOCK_DEADLOCK", sqlState: "40001" })).toBe("TRANSIENT");
    expect(of({ code: "ER_ACCESS_DENIED_ERROR", sqlState: "28000" })).toBe("CONFIGURATION");
    expect(of({ code: "ER_BAD_DB_ERROR", sqlState: "42000" })).toBe("CONFIGURATION");
    expect(of({ code: "ER_SOMETHING_NEW", sqlState: "42S02" })).toBe("CONFIGURATION");
    expect(of({ code: "ER_SOMETHING_ELSE", sqlState: "HY000" })).toBe("TRANSIENT");
    expect(of({ code: "ER_MASTER_FATAL_ERROR_READING_BINLOG", sqlState: "HY000" })).toBe("FATAL");
    expect(classifyMysqlError(new Error("plain"))).toBeNull();
  });
});
