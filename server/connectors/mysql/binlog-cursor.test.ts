import { describe, expect, it } from "vitest";
import { binlogCursor, changeOrder, MYSQL_CURSOR, parseBinlogCursor } from "./binlog-cursor.ts";

describe("binlog cursors", () => {
  it("order by file sequence, then offset; a change sorts above the cursor of its transaction's start and below the next", () => {
    const a = MYSQL_CURSOR.order("mysql_binlog:mysql-bin.000001:999999");
    const b = MYSQL_CURSOR.order("mysql_binlog:mysql-bin.000002:4");
    expect(a < b).toBe(true);
    const change = changeOrder({ file: "mysql-bin.000002", position: 4 }, 0);
    expect(change > b).toBe(true);
    expect(change < MYSQL_CURSOR.order("mysql_binlog:mysql-bin.000002:5")).toBe(true);
  });

  it("refuses what is not a binlog cursor with a field path", () => {
    expect(() => MYSQL_CURSOR.parse("pg_lsn:0/16B3748", "cursor")).toThrow(/mysql_binlog:/);
    expect(() => parseBinlogCursor("mysql_binlog:mysql-bin.000001:99999999999")).toThrow(/out of range/);
    expect(MYSQL_CURSOR.parse("mysql_binlog:mysql-bin.000042:1234")).toBe("mysql_binlog:mysql-bin.000042:1234");
  });

  it("carry MariaDB's GTID position: checked, written in the server's own form, never part of the order", () => {
    expect(MYSQL_CURSOR.parse("mysql_binlog:mysql-bin.000042:1234;gtid=1-2-45,0-1-1234")).toBe("mysql_binlog:mysql-bin.000042:1234;gtid=0-1-1234,1-2-45");
    expect(MYSQL_CURSOR.order("mysql_binlog:mysql-bin.000042:1234;gtid=0-1-9")).toBe(MYSQL_CURSOR.order("mysql_binlog:mysql-bin.000042:1234"));
    expect(parseBinlogCursor("mysql_binlog:mysql-bin.000042:1234;gtid=0-1-9").gtid).toBe("0-1-9");
    expect(() => MYSQL_CURSOR.parse("mysql_binlog:mysql-bin.000042:1234;gtid=0-1", "cursor")).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: "cursor" })] }));
    expect(() => MYSQL_CURSOR.parse("mysql_binlog:mysql-bin.000042:1234;gtid=0-1-2 OR 1=1")).toThrow(/mysql_binlog:/);
    // A position too long for a cursor is left out, never cut: the cursor stays one the API takes.
    const huge = Array.from({ length: 400 }, (_, d) => `${d}-1-123456789`).join(",");
    expect(binlogCursor({ file: "mysql-bin.000042", position: 1234, gtid: huge })).toBe("mysql_binlog:mysql-bin.000042:1234");
  });
});
