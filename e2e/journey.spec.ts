// The whole journey in one test, on the product started as a user starts it (`npm start`) against a
// real PostgreSQL with logical replication: log in, add a source, test it, browse its tables, build
// a mapping visually (no JSON typing) with a json_parse field, preview it, save it, snapshot it to
// 100 %, stream it, watch inserts, updates and deletes reach the contexts, see a row with broken
// JSON land in the dead-letter workbench, fix the row, replay it and see it succeed. A screenshot of
// every main page is saved as a test artifact (test-results/e2e/…).
import { expect, test, type Page } from "@playwright/test";
import pg from "pg";
import { E2E } from "../playwright.config.ts";
import { loadState } from "../scripts/lib/data-dir.ts";
import { screenshot, signIn } from "./helpers.ts";

const TABLE = "journey_accounts";
const CONTEXT_TYPE = `${TABLE}-context`;
const ROWS = 5000;

/** The user's own database: a table of accounts whose profile is JSON kept as text. */
async function userDatabase() {
  const state = await loadState(".data/e2e");
  const client = new pg.Client({ host: "127.0.0.1", port: state.pgPort, user: "postgres", password: state.pgPassword, database: "ecm_demo" });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS ${TABLE};
    CREATE TABLE ${TABLE} (account_id integer PRIMARY KEY, email text NOT NULL, full_name text NOT NULL, profile text);
    INSERT INTO ${TABLE} SELECT i, 'account' || i || '@example.com', 'Account ' || i, json_build_object('plan', CASE WHEN i % 3 = 0 THEN 'pro' ELSE 'free' END, 'seats', i % 7)::text
      FROM generate_series(1, ${ROWS}) i;
    ANALYZE ${TABLE};`);
  return { client, port: state.pgPort, password: state.pgPassword };
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
  const db = await userDatabase();
  try {
    // Log in.
    await page.goto("/");
    await expect(page).toHaveURL(/\/login/);
    await screenshot(page, testInfo, "01-login");
    await signIn(page, E2E.adminEmail, E2E.adminPassword);
    await screenshot(page, testInfo, "02-sources");

    // Add a source with the connection form; the password is typed and stored encrypted.
    await page.getByRole("link", { name: "Add source" }).click();
    await page.getByLabel("Name", { exact: true }).fill("journey");
    await page.getByLabel("Host", { exact: true }).fill("127.0.0.1");
    await page.getByLabel("Port", { exact: true }).fill(String(db.port));
    await page.getByLabel("Database", { exact: true }).fill("ecm_demo");
    await page.getByLabel("Username", { exact: true }).fill("postgres");
    await page.getByLabel("SSL mode", { exact: true }).selectOption("disable");
    await page.getByRole("radio", { name: "typed value" }).check();
    await page.locator("#cfg-authentication-password_secret").fill(db.password);
    await screenshot(page, testInfo, "03-add-source");
    await page.getByRole("button", { name: "Create source" }).click();
    await expect(page.getByRole("heading", { name: /journey/ })).toBeVisible();
    await expect(page.getByTestId("password-reference")).toHaveText(/^secret:\/\//);

    // Test it: every health check passes, logical replication included.
    await page.getByRole("button", { name: "Test connection" }).click();
    const checks = page.getByTestId("health-checks");
    for (const name of ["reachable", "authenticated", "wal_level", "replication_privilege"]) {
      await expect(checks.locator(`[data-check="${name}"]`)).toHaveAttribute("data-status", "pass");
    }
    await screenshot(page, testInfo, "04-source-tested");

    // Browse its tables and open the one to map.
    await expect(page.getByTestId("entity-row").filter({ hasText: TABLE })).toContainText("account_id");
    await page.getByRole("link", { name: TABLE }).click();
    await expect(page.getByTestId("columns").locator("tr", { hasText: "account_id" })).toContainText("PK 1");
    await expect(page.getByTestId("sample-rows")).toContainText("account1@example.com");
    await screenshot(page, testInfo, "05-entity");
    await page.getByRole("link", { name: "journey" }).click();

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
    await screenshot(page, testInfo, "06-visual-mapping");
    await page.getByRole("button", { name: "Save as version 1" }).click();
    await expect(page.getByTestId("saved")).toContainText("version 1");

    // Snapshot: the progress bar reaches 100 % and every row is written.
    await page.getByRole("link", { name: "journey" }).click();
    await page.getByRole("button", { name: "Run snapshot" }).click();
    await expect(page.getByTestId("latest-run")).toHaveAttribute("data-status", "succeeded", { timeout: 90_000 });
    await expect(page.getByRole("progressbar", { name: "Snapshot progress" })).toHaveAttribute("aria-valuenow", "100");
    await expect(page.getByTestId("run-counters")).toContainText(`written ${ROWS.toLocaleString("en-US")}`);
    await screenshot(page, testInfo, "07-snapshot-done");

    // Stream.
    await page.getByRole("button", { name: "Start stream" }).click();
    await expect(page.getByTestId("stream-status")).toHaveAttribute("data-state", "streaming", { timeout: 60_000 });
    await db.client.query(`INSERT INTO ${TABLE} VALUES (9001, 'new@example.com', 'New Account', '{"plan": "team", "seats": 12}')`);
    await db.client.query(`UPDATE ${TABLE} SET email = 'changed-2@example.com', profile = '{"plan": "pro", "seats": 3}' WHERE account_id = 2`);
    await db.client.query(`DELETE FROM ${TABLE} WHERE account_id = 3`);
    await expect(page.getByTestId("stream-cursor")).toHaveText(/^pg_lsn:/, { timeout: 30_000 });
    await screenshot(page, testInfo, "08-streaming");

    // The sources list shows it streaming, with a checkpoint.
    await page.getByRole("link", { name: "Sources" }).first().click();
    const row = page.getByTestId("source-row").filter({ hasText: "journey" });
    await expect(row).toContainText("streaming");
    await expect(row.getByTestId("source-checkpoint")).toHaveText(/ago/, { timeout: 30_000 });
    await screenshot(page, testInfo, "09-sources-streaming");

    // The contexts follow the inserts, updates and deletes.
    await page.getByRole("link", { name: "Contexts" }).click();
    await page.getByLabel("Context type").fill(CONTEXT_TYPE);
    await lookUpContext(page, "9001", "new@example.com");
    await expect(page.getByTestId("context-detail")).toContainText('"team"');
    await lookUpContext(page, "2", "changed-2@example.com");
    await lookUpContext(page, "3", "deleted");
    await screenshot(page, testInfo, "10-contexts");

    // A row with broken JSON: a dead letter; the stream goes on.
    await db.client.query(`INSERT INTO ${TABLE} VALUES (9002, 'broken@example.com', 'Broken Profile', '{"plan": ')`);
    await db.client.query(`INSERT INTO ${TABLE} VALUES (9003, 'after@example.com', 'After Broken', '{"plan": "free"}')`);
    await lookUpContext(page, "9003", "after@example.com");
    await page.getByRole("link", { name: /Dead letters/ }).click();
    await page.getByLabel("Source").selectOption({ label: "journey" });
    const letter = page.getByTestId("dead-letter-row").filter({ hasText: "9002" });
    await expect(letter).toHaveCount(1, { timeout: 30_000 });
    await letter.getByRole("button", { name: "9002" }).click();
    const detail = page.getByTestId("dead-letter-detail");
    await expect(detail).toContainText("invalid JSON");
    await expect(detail).toContainText("data.profile");
    await screenshot(page, testInfo, "11-dead-letter");

    // Fix the row at the source: the stream delivers the fixed row. Replaying the dead letter then
    // succeeds without writing (the store already holds that newer change) and closes it.
    await db.client.query(`UPDATE ${TABLE} SET profile = '{"plan": "fixed"}' WHERE account_id = 9002`);
    await page.getByRole("link", { name: "Contexts" }).click();
    await page.getByLabel("Context type").fill(CONTEXT_TYPE);
    await lookUpContext(page, "9002", '"fixed"');
    await page.getByRole("link", { name: /Dead letters/ }).click();
    await page.getByLabel("Source").selectOption({ label: "journey" });
    await page.getByTestId("dead-letter-row").filter({ hasText: "9002" }).getByRole("button", { name: "9002" }).click();
    await detail.getByRole("button", { name: "Replay", exact: true }).click();
    await expect(page.getByTestId("replay-run")).toHaveAttribute("data-status", "succeeded", { timeout: 30_000 });
    await expect(page.getByTestId("replay-run")).toContainText("1 already up to date");
    await expect(page.getByTestId("replay-run")).toContainText("0 failed again");
    await expect(page.getByTestId("dead-letter-row").filter({ hasText: "9002" })).toHaveCount(0);
    await page.getByLabel("Status").selectOption("replayed");
    await page.getByTestId("dead-letter-row").filter({ hasText: "9002" }).getByRole("button", { name: "9002" }).click();
    await expect(detail).toContainText("Outcome: already up to date");
    await screenshot(page, testInfo, "12-dead-letter-replayed");

    // Stop the stream; the run history keeps it. Alerts and settings pages for the record.
    await page.getByRole("link", { name: "Sources" }).first().click();
    await page.getByRole("link", { name: "journey" }).click();
    await page.getByRole("button", { name: "Stop stream" }).click();
    await expect(page.getByTestId("stream-status")).toHaveAttribute("data-state", "idle", { timeout: 30_000 });
    await expect(page.getByTestId("run-row").filter({ hasText: "stream" }).first()).toHaveAttribute("data-status", /succeeded|cancelled/);
    await screenshot(page, testInfo, "13-source-history");
    await page.getByRole("link", { name: "Alerts" }).click();
    await expect(page.getByRole("heading", { name: "Alerts" })).toBeVisible();
    await screenshot(page, testInfo, "14-alerts");
    await page.getByRole("link", { name: "Settings" }).click();
    await expect(page.getByRole("heading", { name: /Settings/ })).toBeVisible();
    await screenshot(page, testInfo, "15-settings");
  } finally {
    await db.client.end();
  }
});
