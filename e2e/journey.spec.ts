// The whole journey in one test, on the product started as a user starts it (`npm start`), run once
// against a real PostgreSQL with logical replication and once against a real MariaDB with a row
// binlog (started here, as a user's own database would be): log in, add a source, test it, browse its tables, build
// a mapping visually (no JSON typing) with a json_parse field, preview it, save it, snapshot it to
// 100 %, stream it, watch inserts, updates and deletes reach the contexts, see a row with broken
// JSON land in the dead-letter workbench, fix the row, replay it and see it succeed. A screenshot of
// every main page is saved as a test artifact (test-results/e2e/…).
import path from "node:path";
import { expect, test, type Page, type TestInfo } from "@playwright/test";
import mysql from "mysql2/promise";
import pg from "pg";
import { E2E } from "../playwright.config.ts";
import { loadState } from "../scripts/lib/data-dir.ts";
import { startMariadb } from "../scripts/lib/mariadb-server.ts";
import { screenshot, signIn } from "./helpers.ts";

const ROWS = 5000;

/** The user's own database, of one connector type: how to reach it, fill the form, and write to it. */
type UserDatabase = {
  source: string;
  /** Its table of accounts (each type its own: one context type is written by one source). */
  table: string;
  connector: string;
  port: number;
  database: string;
  username: string;
  password: string;
  /** Health checks that must pass (the type's change capture among them). */
  checks: string[];
  cursor: RegExp;
  exec(sql: string): Promise<unknown>;
  close(): Promise<void>;
};

/** PostgreSQL: the installation's own embedded server, a table of accounts whose profile is JSON kept as text. */
async function postgresDatabase(): Promise<UserDatabase> {
  const TABLE = "journey_accounts";
  const state = await loadState(".data/e2e");
  const client = new pg.Client({ host: "127.0.0.1", port: state.pgPort, user: "postgres", password: state.pgPassword, database: "ecm_demo" });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS ${TABLE};
    CREATE TABLE ${TABLE} (account_id integer PRIMARY KEY, email text NOT NULL, full_name text NOT NULL, profile text);
    INSERT INTO ${TABLE} SELECT i, 'account' || i || '@example.com', 'Account ' || i, json_build_object('plan', CASE WHEN i % 3 = 0 THEN 'pro' ELSE 'free' END, 'seats', i % 7)::text
      FROM generate_series(1, ${ROWS}) i;
    ANALYZE ${TABLE};`);
  return {
    source: "journey",
    table: TABLE,
    connector: "postgresql",
    port: state.pgPort,
    database: "ecm_demo",
    username: "postgres",
    password: state.pgPassword,
    checks: ["reachable", "authenticated", "wal_level", "replication_privilege"],
    cursor: /^pg_lsn:/,
    exec: (sql) => client.query(sql),
    close: () => client.end(),
  };
}

/** MariaDB with a row binlog, started for the journey: the same table. */
async function mariadbDatabase(): Promise<UserDatabase> {
  const TABLE = "journey_members";
  const server = await startMariadb({ dir: path.resolve(".data/e2e/mariadb"), port: 0, serverId: 31, password: "e2e-mariadb-password" });
  const admin = await mysql.createConnection({ uri: server.url(), multipleStatements: true });
  await admin.query(`DROP DATABASE IF EXISTS journey; CREATE DATABASE journey; USE journey;
    CREATE TABLE ${TABLE} (account_id int PRIMARY KEY, email varchar(200) NOT NULL, full_name varchar(200) NOT NULL, profile text);
    INSERT INTO ${TABLE} SELECT seq, CONCAT('account', seq, '@example.com'), CONCAT('Account ', seq), JSON_OBJECT('plan', IF(seq % 3 = 0, 'pro', 'free'), 'seats', seq % 7) FROM seq_1_to_${ROWS};
    ANALYZE TABLE ${TABLE};`);
  return {
    source: "journey-mariadb",
    table: TABLE,
    connector: "mysql",
    port: server.port,
    database: "journey",
    username: "root",
    password: server.password,
    checks: ["reachable", "authenticated", "log_bin", "binlog_format", "binlog_row_image", "replication_privilege"],
    cursor: /^mysql_binlog:/,
    exec: (sql) => admin.query(sql),
    close: async () => {
      await admin.end();
      await server.stop();
    },
  };
}

async function lookUpContext(page: Page, id: string, expected: string | RegExp) {
  await expect(async () => {
    await page.getByLabel("Context id").fill(id);
    await page.getByRole("button", { name: "Look up" }).click();
    await expect(page.getByTestId("context-detail")).toContainText(expected, { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
}

test("the user journey: add a source, map it visually, snapshot, stream, dead-letter, fix, replay", async ({ page }, testInfo) => {
  test.setTimeout(300_000);
  await journey(page, testInfo, await postgresDatabase());
});

test("the user journey on a MariaDB source", async ({ page }, testInfo) => {
  test.setTimeout(300_000);
  await journey(page, testInfo, await mariadbDatabase());
});

async function journey(page: Page, testInfo: TestInfo, db: UserDatabase) {
  const shot = (name: string): Promise<void> => screenshot(page, testInfo, `${db.connector}-${name}`);
  const sourceLink = () => page.getByRole("link", { name: db.source, exact: true });
  const TABLE = db.table;
  const CONTEXT_TYPE = `${TABLE}-context`;
  try {
    // Log in.
    await page.goto("/");
    await expect(page).toHaveURL(/\/login/);
    await shot("01-login");
    await signIn(page, E2E.adminEmail, E2E.adminPassword);
    await shot("02-sources");

    // Add a source with the connection form; the password is typed and stored encrypted.
    await page.getByRole("link", { name: "Add source" }).click();
    await page.getByLabel("Name", { exact: true }).fill(db.source);
    await page.getByLabel("Connector", { exact: true }).selectOption(db.connector);
    await page.getByLabel("Host", { exact: true }).fill("127.0.0.1");
    await page.getByLabel("Port", { exact: true }).fill(String(db.port));
    await page.getByLabel("Database", { exact: true }).fill(db.database);
    await page.getByLabel("Username", { exact: true }).fill(db.username);
    await page.getByLabel("SSL mode", { exact: true }).selectOption("disable");
    await page.getByRole("radio", { name: "typed value" }).check();
    await page.locator("#cfg-authentication-password_secret").fill(db.password);
    await shot("03-add-source");
    await page.getByRole("button", { name: "Create source" }).click();
    await expect(page.getByRole("heading", { name: db.source })).toBeVisible();
    await expect(page.getByTestId("password-reference")).toHaveText(/^secret:\/\//);

    // Test it: every health check passes, what change capture needs included.
    await page.getByRole("button", { name: "Test connection" }).click();
    const checks = page.getByTestId("health-checks");
    for (const name of db.checks) {
      await expect(checks.locator(`[data-check="${name}"]`)).toHaveAttribute("data-status", "pass");
    }
    await shot("04-source-tested");

    // Browse its tables and open the one to map.
    await expect(page.getByTestId("entity-row").filter({ hasText: TABLE })).toContainText("account_id");
    await page.getByRole("link", { name: TABLE }).click();
    await expect(page.getByTestId("columns").locator("tr", { hasText: "account_id" })).toContainText("PK 1");
    await expect(page.getByTestId("sample-rows")).toContainText("account1@example.com");
    await shot("05-entity");
    await sourceLink().click();

    // Build the mapping visually: choose the table, map the key, email, name, and profile with json_parse.
    await page.getByRole("link", { name: /mapping/i }).first().click();
    await expect(page.getByRole("tab", { name: "Visual" })).toHaveAttribute("aria-selected", "true");
    const entries = page.getByTestId("visual-entry");
    for (let n = await entries.count(); n > 0; n--) await entries.first().getByRole("button", { name: "Remove", exact: true }).click();
    await page.getByLabel("Table to map").selectOption(TABLE);
    await page.getByRole("button", { name: "Add mapping" }).click();
    const entry = page.getByRole("region", { name: `Mapping of ${TABLE}` });
    await entry.getByRole("button", { name: "Map account_id" }).click();
    await expect(entry.getByLabel("Target path of field 1")).toHaveValue("context_id");
    await entry.getByRole("button", { name: "Map email" }).click();
    await entry.getByRole("list", { name: `Columns of ${TABLE}` }).getByRole("listitem").filter({ hasText: "full_name" }).dragTo(entry.getByText("Target fields (drop a column here)"));
    await entry.getByRole("button", { name: "Map profile" }).click();
    await entry.getByLabel("Transform of data.profile").selectOption("json_parse");
    await expect(entry.getByTestId("visual-field")).toHaveCount(4);

    // The live preview shows the parsed profile as an object.
    const record = page.getByTestId("preview-record").first();
    await expect(record).toContainText(`"context_type": "${CONTEXT_TYPE}"`);
    await expect(record).toContainText('"plan": "free"');
    await expect(page.getByTestId("preview-record").and(page.locator('[data-failed="true"]'))).toHaveCount(0);
    await shot("06-visual-mapping");
    await page.getByRole("button", { name: "Save as version 1" }).click();
    await expect(page.getByTestId("saved")).toContainText("version 1");

    // Snapshot: the progress bar reaches 100 % and every row is written.
    await sourceLink().click();
    await page.getByRole("button", { name: "Run snapshot" }).click();
    await expect(page.getByTestId("latest-run")).toHaveAttribute("data-status", "succeeded", { timeout: 90_000 });
    await expect(page.getByRole("progressbar", { name: "Snapshot progress" })).toHaveAttribute("aria-valuenow", "100");
    await expect(page.getByTestId("run-counters")).toContainText(`written ${ROWS.toLocaleString("en-US")}`);
    await shot("07-snapshot-done");

    // Stream.
    await page.getByRole("button", { name: "Start stream" }).click();
    await expect(page.getByTestId("stream-status")).toHaveAttribute("data-state", "streaming", { timeout: 60_000 });
    await db.exec(`INSERT INTO ${TABLE} VALUES (9001, 'new@example.com', 'New Account', '{"plan": "team", "seats": 12}')`);
    await db.exec(`UPDATE ${TABLE} SET email = 'changed-2@example.com', profile = '{"plan": "pro", "seats": 3}' WHERE account_id = 2`);
    await db.exec(`DELETE FROM ${TABLE} WHERE account_id = 3`);
    await expect(page.getByTestId("stream-cursor")).toHaveText(db.cursor, { timeout: 30_000 });
    await shot("08-streaming");

    // The sources list shows it streaming, with a checkpoint.
    await page.getByRole("link", { name: "Sources" }).first().click();
    const row = page.getByTestId("source-row").filter({ has: sourceLink() });
    await expect(row).toContainText("streaming");
    await expect(row.getByTestId("source-checkpoint")).toHaveText(/ago/, { timeout: 30_000 });
    await shot("09-sources-streaming");

    // The contexts follow the inserts, updates and deletes.
    await page.getByRole("link", { name: "Contexts" }).click();
    await page.getByLabel("Context type").fill(CONTEXT_TYPE);
    await lookUpContext(page, "9001", "new@example.com");
    await expect(page.getByTestId("context-detail")).toContainText('"team"');
    await lookUpContext(page, "2", "changed-2@example.com");
    await lookUpContext(page, "3", "deleted");
    await shot("10-contexts");

    // A row with broken JSON: a dead letter; the stream goes on.
    await db.exec(`INSERT INTO ${TABLE} VALUES (9002, 'broken@example.com', 'Broken Profile', '{"plan": ')`);
    await db.exec(`INSERT INTO ${TABLE} VALUES (9003, 'after@example.com', 'After Broken', '{"plan": "free"}')`);
    await lookUpContext(page, "9003", "after@example.com");
    await page.getByRole("link", { name: /Dead letters/ }).click();
    await page.getByLabel("Source").selectOption({ label: db.source });
    const letter = page.getByTestId("dead-letter-row").filter({ hasText: "9002" });
    await expect(letter).toHaveCount(1, { timeout: 30_000 });
    await letter.getByRole("button", { name: "9002" }).click();
    const detail = page.getByTestId("dead-letter-detail");
    await expect(detail).toContainText("invalid JSON");
    await expect(detail).toContainText("data.profile");
    await shot("11-dead-letter");

    // Fix the row at the source: the stream delivers the fixed row. Replaying the dead letter then
    // succeeds without writing (the store already holds that newer change) and closes it.
    await db.exec(`UPDATE ${TABLE} SET profile = '{"plan": "fixed"}' WHERE account_id = 9002`);
    await page.getByRole("link", { name: "Contexts" }).click();
    await page.getByLabel("Context type").fill(CONTEXT_TYPE);
    await lookUpContext(page, "9002", '"fixed"');
    await page.getByRole("link", { name: /Dead letters/ }).click();
    await page.getByLabel("Source").selectOption({ label: db.source });
    await page.getByTestId("dead-letter-row").filter({ hasText: "9002" }).getByRole("button", { name: "9002" }).click();
    await detail.getByRole("button", { name: "Replay", exact: true }).click();
    await expect(page.getByTestId("replay-run")).toHaveAttribute("data-status", "succeeded", { timeout: 30_000 });
    await expect(page.getByTestId("replay-run")).toContainText("1 already up to date");
    await expect(page.getByTestId("replay-run")).toContainText("0 failed again");
    await expect(page.getByTestId("dead-letter-row").filter({ hasText: "9002" })).toHaveCount(0);
    await page.getByLabel("Status").selectOption("replayed");
    await page.getByTestId("dead-letter-row").filter({ hasText: "9002" }).getByRole("button", { name: "9002" }).click();
    await expect(detail).toContainText("Outcome: already up to date");
    await shot("12-dead-letter-replayed");

    // Stop the stream; the run history keeps it. Alerts and settings pages for the record.
    await page.getByRole("link", { name: "Sources" }).first().click();
    await sourceLink().click();
    await page.getByRole("button", { name: "Stop stream" }).click();
    await expect(page.getByTestId("stream-status")).toHaveAttribute("data-state", "idle", { timeout: 30_000 });
    await expect(page.getByTestId("run-row").filter({ hasText: "stream" }).first()).toHaveAttribute("data-status", /succeeded|cancelled/);
    await shot("13-source-history");
    await page.getByRole("link", { name: "Alerts" }).click();
    await expect(page.getByRole("heading", { name: "Alerts" })).toBeVisible();
    await shot("14-alerts");
    await page.getByRole("link", { name: "Settings" }).click();
    await expect(page.getByRole("heading", { name: /Settings/ })).toBeVisible();
    await shot("15-settings");
  } finally {
    await db.close();
  }
}
