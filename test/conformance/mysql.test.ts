// MySQL / MariaDB pass the connector conformance kit (test/conformance/kit.ts) against the test
// server (MYSQL_TEST_URL, else the MariaDB with a row binlog that global-setup starts). The kit's
// sections about a capture object on the source are skipped by capability: the binlog is the
// server's own, nothing is set up on it (captureExists is not given).
import path from "node:path";
import { startMariadb, type MariadbServer } from "../../scripts/lib/mariadb-server.ts";
import mysql from "mysql2/promise";
import { createMysqlDatabase, mysqlExec } from "../support/mysql-db.ts";
import { describeConformance } from "./kit.ts";

let moved: MariadbServer | undefined;

describeConformance({
  type: "mysql",
  async createSource(name) {
    return createMysqlDatabase(name);
  },
  incremental: {
    cursorType: "TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)",
    now: "NOW(6)",
    dayAgo: "NOW(6) - INTERVAL 1 DAY",
    async session(source) {
      const c = await mysql.createConnection({ uri: source.url!, dateStrings: true });
      c.on("error", () => {}); // reported by the next statement
      return { exec: async (sql) => ((rows) => (Array.isArray(rows) ? (rows as Record<string, unknown>[]) : []))((await c.query(sql))[0]), close: () => c.end() };
    },
  },
  entity: (table) => table,
  types: [
    { column: "c_bigint", type: "bigint", literal: "9223372036854775807", expected: "9223372036854775807" },
    { column: "c_ubigint", type: "bigint unsigned", literal: "18446744073709551615", expected: "18446744073709551615" },
    { column: "c_int", type: "int", literal: "-2147483648", expected: -2147483648 },
    { column: "c_tinyint1", type: "tinyint(1)", literal: "2", expected: 2 },
    { column: "c_decimal", type: "decimal(65,30)", literal: "'12345678901234567890123456789012345.123456789012345678901234567890'", expected: "12345678901234567890123456789012345.123456789012345678901234567890" },
    { column: "c_double", type: "double", literal: "0.1", expected: 0.1 },
    { column: "c_float", type: "float", literal: "3.14159", expected: 3.14159 },
    { column: "c_text", type: "varchar(100)", literal: "'𝄞 中文 é ''quoted'''", expected: "𝄞 中文 é 'quoted'" },
    { column: "c_json", type: "json", literal: `'{"b": 1, "a": {"n": null}}'`, expected: { a: { n: null }, b: 1 } },
    { column: "c_date", type: "date", literal: "'2024-02-29'", expected: "2024-02-29" },
    { column: "c_datetime", type: "datetime(6)", literal: "'2024-01-02 03:04:05.123456'", expected: "2024-01-02T03:04:05.123456" },
    { column: "c_zero_datetime", type: "datetime", literal: "'0000-00-00 00:00:00'", expected: "0000-00-00T00:00:00" },
    { column: "c_timestamp", type: "timestamp(6) NULL", literal: "'2024-01-02 03:04:05.123456'", expected: "2024-01-02T03:04:05.123456Z" },
    { column: "c_zero_timestamp", type: "timestamp NULL", literal: "'0000-00-00 00:00:00'", expected: "0000-00-00T00:00:00Z" },
    { column: "c_time", type: "time(6)", literal: "'-838:59:59.000000'", expected: "-838:59:59.000000" },
    { column: "c_year", type: "year", literal: "0", expected: 0 },
    { column: "c_year2155", type: "year", literal: "2155", expected: 2155 },
    { column: "c_blob", type: "blob", literal: "x'00ff10'", expected: "AP8Q" },
    { column: "c_binary", type: "binary(4)", literal: "x'0102'", expected: "AQIAAA==" },
    { column: "c_bit", type: "bit(10)", literal: "b'1000000001'", expected: "1000000001" },
    { column: "c_enum", type: "enum('a','b,c','d''e')", literal: "'b,c'", expected: "b,c" },
    { column: "c_set", type: "set('x','y','z')", literal: "'z,x'", expected: ["x", "z"] },
    { column: "c_generated", type: "int AS (c_int + 1) STORED", literal: "DEFAULT", expected: -2147483647 },
    { column: "c_null", type: "varchar(10)", literal: "NULL", expected: null },
  ],
  brokenHealth: [
    { check: "reachable", config: (good) => ({ ...good, connection: { ...(good.connection as object), port: 1 } }) },
    {
      check: "authenticated",
      config: (good) => {
        process.env.ECM_SOURCE_KIT_WRONG = "not-the-password";
        return { ...good, authentication: { ...(good.authentication as object), password_secret: "env://ECM_SOURCE_KIT_WRONG" } };
      },
    },
    { check: "database_exists", config: (good) => ({ ...good, connection: { ...(good.connection as object), database: "ecm_kit_no_such_db" } }) },
    {
      check: "replication_privilege",
      config: async (good) => {
        const admin = mysqlExec(process.env.MYSQL_TEST_URL!);
        const database = (good.connection as { database: string }).database;
        await admin("CREATE USER IF NOT EXISTS 'kit_norepl'@'%' IDENTIFIED BY 'kit-norepl'");
        await admin(`GRANT SELECT ON \`${database}\`.* TO 'kit_norepl'@'%'`);
        process.env.ECM_SOURCE_KIT_NOREPL = "kit-norepl";
        return { ...good, authentication: { type: "credentials", username: "kit_norepl", password_secret: "env://ECM_SOURCE_KIT_NOREPL" } };
      },
    },
  ],
  async dropCaptureByHand(source) {
    // What an operator does to reclaim disk: a new binlog file, every older one purged.
    await source.exec("FLUSH BINARY LOGS");
    const [status] = await source.exec("SHOW MASTER STATUS");
    await source.exec(`PURGE BINARY LOGS TO '${String(status!.File)}'`);
  },
  async freshServer(name) {
    // A second MariaDB (its own server id, data directory and binlog), reached with the same root password.
    const main = new URL(process.env.MYSQL_TEST_URL!);
    moved ??= await startMariadb({ dir: path.resolve(".data/test/mariadb-moved"), port: 0, serverId: 12, password: decodeURIComponent(main.password) });
    return createMysqlDatabase(name, moved.url());
  },
  async cleanup() {
    await moved?.stop();
  },
});
