// A source without replication rights, kept current by scheduled incremental runs, configured in
// the console as a user would: the connection form with change tracking "incremental", a lag and
// a cron schedule; the visual mapping with the suggested cursor column; then the source page shows
// the schedule running (next and last run, what each entity reads next), a row changed at the
// source reaches the contexts by the next run, and pausing the schedule stops the runs.
import { expect, test } from "@playwright/test";
import pg from "pg";
import { E2E } from "../playwright.config.ts";
import { loadState } from "../scripts/lib/data-dir.ts";
import { adminApi, screenshot, signIn } from "./helpers.ts";

const TABLE = "sync_orders";
const SOURCE = "orders-incremental";

test("an incremental source on a schedule, configured and watched in the console", async ({ page, request }, testInfo) => {
  test.setTimeout(180_000);
  const state = await loadState(".data/e2e");
  const db = new pg.Client({ host: "127.0.0.1", port: state.pgPort, user: "postgres", password: state.pgPassword, database: "ecm_demo" });
  await db.connect();
  try {
    await db.query(`DROP TABLE IF EXISTS ${TABLE};
      CREATE TABLE ${TABLE} (order_id integer PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
      CREATE INDEX ON ${TABLE} (updated_at);
      INSERT INTO ${TABLE} (order_id, status, updated_at) SELECT i, 'placed', now() - interval '1 hour' FROM generate_series(1, 200) i;`);

    await signIn(page, E2E.adminEmail, E2E.adminPassword);
    await page.getByRole("link", { name: "Add source" }).click();
    await page.getByLabel("Name", { exact: true }).fill(SOURCE);
    await page.getByLabel("Connector", { exact: true }).selectOption("postgresql");
    await page.getByLabel("Host", { exact: true }).fill("127.0.0.1");
    await page.getByLabel("Port", { exact: true }).fill(String(state.pgPort));
    await page.getByLabel("Database", { exact: true }).fill("ecm_demo");
    await page.getByLabel("Username", { exact: true }).fill("postgres");
    await page.getByLabel("SSL mode", { exact: true }).selectOption("disable");
    await page.getByRole("radio", { name: "typed value" }).check();
    await page.locator("#cfg-authentication-password_secret").fill(state.pgPassword);
    await page.getByLabel("Change tracking", { exact: true }).selectOption("incremental");
    await page.getByLabel("Lag (s)", { exact: true }).fill("1"); // rows a second old are read (the default waits for open transactions + 60 s)
    await page.getByLabel("Schedule: kind", { exact: true }).selectOption({ label: "Cron expression" });
    await page.getByLabel("Cron", { exact: true }).fill("*/3 * * * * *");
    await screenshot(page, testInfo, "incremental-01-add-source");
    await page.getByRole("button", { name: "Create source" }).click();
    await expect(page.getByRole("heading", { name: SOURCE })).toBeVisible();

    // The schedule is there before any mapping; its runs fail until one is saved, so map first.
    await page.getByRole("link", { name: /mapping/i }).first().click();
    await expect(page.getByRole("tab", { name: "Visual" })).toHaveAttribute("aria-selected", "true");
    const entries = page.getByTestId("visual-entry");
    await expect(entries.first()).toBeVisible(); // the editor's first draft (the first table) is in
    for (let n = await entries.count(); n > 0; n--) await entries.first().getByRole("button", { name: "Remove", exact: true }).click();
    await expect(entries).toHaveCount(0);
    await page.getByLabel("Table to map").selectOption(TABLE);
    await page.getByRole("button", { name: "Add mapping" }).click();
    const entry = page.getByRole("region", { name: `Mapping of ${TABLE}` });
    await entry.getByRole("button", { name: "Map order_id" }).click();
    await entry.getByRole("button", { name: "Map status" }).click();
    const cursor = entry.getByLabel(`Incremental cursor of ${TABLE}`);
    await expect(cursor.locator("option", { hasText: "(suggested)" })).toHaveText("updated_at (suggested)");
    await cursor.selectOption("updated_at");
    await screenshot(page, testInfo, "incremental-02-mapping");
    await page.getByRole("button", { name: /Save as version/ }).click();
    await expect(page.getByTestId("saved")).toContainText("version");

    // The source page: the schedule runs by itself, and says what each entity reads next.
    await page.getByRole("link", { name: SOURCE, exact: true }).click();
    await expect(page.getByText(`Mapping version 1: ${TABLE} → ${TABLE}-context`, { exact: true })).toBeVisible();
    const schedule = page.getByTestId("schedule");
    await expect(schedule).toContainText("*/3 * * * * * (UTC)");
    await expect(page.getByTestId("schedule-last")).toContainText("succeeded", { timeout: 60_000 });
    await expect(page.getByTestId("schedule-next")).toContainText(/in \d+ s/);
    const table = page.getByRole("table", { name: "Incremental sync per entity" });
    await expect(table.locator("tr", { hasText: TABLE })).toContainText("updated_at");
    await screenshot(page, testInfo, "incremental-03-running");

    // A row changed at the source reaches the contexts by a later run.
    await db.query(`UPDATE ${TABLE} SET status = 'shipped', updated_at = now() WHERE order_id = 7`);
    const api = adminApi(request);
    await expect(async () => {
      const ctx = await (await api.get(`/contexts/${TABLE}-context/7`)).json();
      expect(ctx.data?.status).toBe("shipped");
    }).toPass({ timeout: 60_000 });
    await expect(table.locator("tr", { hasText: TABLE })).toContainText("incremental", { timeout: 30_000 });

    // A row deleted at the source: the run's reconcile (keys only) tombstones its context.
    await db.query(`DELETE FROM ${TABLE} WHERE order_id = 8`);
    await expect(async () => expect((await api.get(`/contexts/${TABLE}-context/8`)).status()).toBe(404)).toPass({ timeout: 60_000 });
    await expect(table.locator("tr", { hasText: TABLE })).toContainText("deletes checked");

    // Paused: no run starts by itself.
    await page.getByRole("button", { name: "Pause schedule" }).click();
    await expect(page.getByTestId("schedule-next")).toContainText("paused");
    await expect(page.getByRole("button", { name: "Resume schedule" })).toBeVisible();
    await screenshot(page, testInfo, "incremental-04-paused");
  } finally {
    await db.end();
  }
});
