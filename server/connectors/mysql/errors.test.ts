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
    expect(of({ code: "ER_SOURCE_FATAL_ERROR_READING_BINLOG", errno: 1236, sqlState: "HY000", message: "Could not find first log file name in binary log index file" })).toBe("FATAL");
    expect(of({ code: "ER_SOURCE_FATAL_ERROR_READING_BINLOG", errno: 1236, sqlState: "HY000", message: "A slave with the same server_uuid/server_id as this slave has connected to the master" })).toBe("TRANSIENT");
    expect(of({ errno: 1927, sqlState: "70100" })).toBe("TRANSIENT");
    expect(classifyMysqlError(new Error("plain"))).toBeNull();
  });
});
