import { describe, expect, it } from "vitest";
import { readStatement } from "./statements.ts";

describe("statements in the binlog", () => {
  it("tells transaction boundaries from statements inside one", () => {
    expect(readStatement("BEGIN")).toEqual({ kind: "begin" });
    expect(readStatement("XA START 'x'")).toEqual({ kind: "begin" });
    expect(readStatement("COMMIT")).toEqual({ kind: "end" });
    expect(readStatement("ROLLBACK")).toEqual({ kind: "end" });
    expect(readStatement("XA COMMIT 'x'")).toEqual({ kind: "end" });
    expect(readStatement("SAVEPOINT `s1`")).toEqual({ kind: "inside" });
    expect(readStatement("ROLLBACK TO `s1`")).toEqual({ kind: "inside" });
    expect(readStatement("ROLLBACK WORK TO SAVEPOINT s1")).toEqual({ kind: "inside" });
    expect(readStatement("XA END 'x'")).toEqual({ kind: "inside" });
    expect(readStatement("ALTER TABLE t ADD COLUMN z int")).toEqual({ kind: "other" });
    // MySQL 8.0.21+: CREATE TABLE … SELECT opens a transaction its rows and commit follow.
    expect(readStatement("CREATE TABLE `t2` (\n  `id` int NOT NULL\n) START TRANSACTION")).toEqual({ kind: "begin" });
    expect(readStatement("CREATE TABLE t3 (id int)")).toEqual({ kind: "other" });
  });

  it("reads the table a TRUNCATE empties: quoted, qualified, after comments, in any script", () => {
    expect(readStatement("TRUNCATE TABLE events")).toEqual({ kind: "truncate", database: null, table: "events" });
    expect(readStatement("truncate `we``ird`;")).toEqual({ kind: "truncate", database: null, table: "we`ird" });
    expect(readStatement("/* app */ TRUNCATE TABLE `db` . `t`")).toEqual({ kind: "truncate", database: "db", table: "t" });
    expect(readStatement("TRUNCATE TABLE données -- nightly\n")).toEqual({ kind: "truncate", database: null, table: "données" });
    expect(readStatement("TRUNCATE TABLE a, b")).toEqual({ kind: "other" });
    expect(readStatement("TRUNCATE TABLE t WAIT 5")).toEqual({ kind: "truncate", database: null, table: "t" });
    expect(readStatement("TRUNCATE t NOWAIT")).toEqual({ kind: "truncate", database: null, table: "t" });
  });

  it("reads what the server runs inside executable comments", () => {
    expect(readStatement("/*!TRUNCATE t*/")).toEqual({ kind: "truncate", database: null, table: "t" });
    expect(readStatement("/*M!100500 TRUNCATE TABLE `db`.`t` */")).toEqual({ kind: "truncate", database: "db", table: "t" });
    expect(readStatement("/*!40000 ALTER TABLE t DISABLE KEYS */")).toEqual({ kind: "other" });
  });

  it("reads hostile statements (long runs of blanks, an unclosed comment, a long name) to the right answer", () => {
    expect(readStatement(`TRUNCATE TABLE t${" ".repeat(200_000)}/*x*/`)).toEqual({ kind: "truncate", database: null, table: "t" });
    expect(readStatement(`/*${"*".repeat(200_000)}`)).toEqual({ kind: "other" });
    expect(readStatement(`TRUNCATE ${"a".repeat(100_000)} x`)).toEqual({ kind: "other" });
  });
});
