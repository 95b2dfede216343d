import { describe, expect, it } from "vitest";
import { changeOrder, MYSQL_CURSOR, parseBinlogCursor } from "./binlog-cursor.ts";

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

  it("carry the server's GTID set where it has one: checked, written in the server's own form, never part of the order", () => {
    expect(MYSQL_CURSOR.parse("mysql_binlog:mysql-bin.000042:1234;gtid=1-2-45,0-1-1234")).toBe("mysql_binlog:mysql-bin.000042:1234;gtid=0-1-1234,1-2-45");
    const mysqlSet = "mysql_binlog:binlog.000003:157;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7";
    expect(MYSQL_CURSOR.parse(mysqlSet)).toBe(mysqlSet);
    expect(MYSQL_CURSOR.order("mysql_binlog:mysql-bin.000042:1234;gtid=0-1-9")).toBe(MYSQL_CURSOR.order("mysql_binlog:mysql-bin.000042:1234"));
    expect(parseBinlogCursor("mysql_binlog:mysql-bin.000042:1234;gtid=0-1-9").gtid).toBe("0-1-9");
    expect(() => MYSQL_CURSOR.parse("mysql_binlog:mysql-bin.000042:1234;gtid=0-1", "cursor")).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: "cursor" })] }));
    expect(() => MYSQL_CURSOR.parse("mysql_binlog:mysql-bin.000042:1234;gtid=0-1-2 OR 1=1")).toThrow(/mysql_binlog:/);
  });
});
