// The MySQL connector itself against the test server (MYSQL_TEST_URL): what the conformance kit
// (test/conformance/mysql.test.ts) does not see through the API.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MysqlConnector } from "../../server/connectors/mysql/connector.ts";
import type { ConnectorConfig } from "../../server/connectors/types.ts";
import { createMysqlDatabase, type MysqlSource } from "../support/mysql-db.ts";
import { waitFor } from "../support/wait.ts";

const DB = "ecm_mysql_connector";
let source: MysqlSource;
const open: MysqlConnector[] = [];

beforeAll(async () => {
  source = await createMysqlDatabase(DB, process.env.MYSQL_TEST_URL!, [
    "CREATE TABLE a (id int PRIMARY KEY)",
    "CREATE TABLE b (id int PRIMARY KEY)",
    "CREATE TABLE c (id int PRIMARY KEY)",
  ]);
});
afterAll(async () => {
  for (const c of open) await c.shutdown();
});

describe("the MySQL connector", () => {
  it("opens one connection when several entities are described at once on a fresh connector", async () => {
    // Sessions on the kit's database, this query's own included (a connection per query).
    const sessions = async () => Number((await source.exec("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ?", [DB]))[0]!.n);
    const before = await sessions();
    const c = new MysqlConnector({ sourceId: "00000000-0000-0000-0000-00000000c0df" });
    open.push(c);
    await c.initialize(source.config as ConnectorConfig);
    await Promise.all(["a", "b", "c"].map((t) => c.describeEntity(t)));
    expect(await sessions()).toBe(before + 1);
    await c.shutdown();
    // (The server ends a closed session as it reads the client's goodbye.)
    await waitFor("the connector's session to end", async () => ((await sessions()) === before ? true : undefined), 5_000, 50);
  });
});
