import { describe, expect, it } from "vitest";
import { changePosition, parseLsn, PG_CURSOR } from "./lsn.ts";

describe("PostgreSQL cursors and store positions", () => {
  it("orders a snapshot placed at a cursor below every change committed from there on", () => {
    const floor = PG_CURSOR.order("pg_lsn:16/B374D848");
    expect(changePosition(parseLsn("16/B374D848"), 0)).toBeGreaterThan(floor);
    expect(changePosition(parseLsn("16/B374D847"), 5)).toBeLessThan(floor);
  });

  it("orders the changes of one transaction by their index, and transactions by commit LSN", () => {
    const a = parseLsn("0/100");
    expect(changePosition(a, 1)).toBeGreaterThan(changePosition(a, 0));
    expect(changePosition(parseLsn("0/101"), 0)).toBeGreaterThan(changePosition(a, 4_000_000));
  });

  it("normalises cursors and names the field of a malformed one", () => {
    expect(PG_CURSOR.parse("pg_lsn:0/00ab")).toBe("pg_lsn:0/AB");
    expect(() => PG_CURSOR.parse("mysql_binlog:f:1", "start.cursor")).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: "start.cursor" })] }));
  });
});
