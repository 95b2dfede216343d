// Streaming in the console, on the product started as a user starts it: start the demo source's
// change stream, change rows in the source database, and watch the contexts follow; a row with
// broken JSON lands in the dead-letter workbench, is fixed at the source, replayed, and succeeds.
import { expect, test } from "@playwright/test";
import pg from "pg";
import { E2E } from "../playwright.config.ts";
import { loadState } from "../scripts/lib/data-dir.ts";
import { adminApi, CUSTOMER_MAPPING as MAPPING, screenshot, signIn } from "./helpers.ts";


async function demoDb() {
  const state = await loadState(".data/e2e");
  const client = new pg.Client({ host: "127.0.0.1", port: state.pgPort, user: "postgres", password: state.pgPassword, database: "ecm_demo" });
  await client.connect();
  return client;
}

test("stream changes into the console, dead-letter a broken row, fix it and replay", async ({ page, request }, testInfo) => {
  test.setTimeout(180_000);
  const api = adminApi(request);
  const sources = await (await api.get("/sources")).json();
  const demo = sources.sources.find((s: { name: string }) => s.name === "demo-shop");
  expect((await api.put(`/sources/${demo.id}/mappings`, MAPPING)).ok()).toBe(true);
  const db = await demoDb();
  try {
    await signIn(page, E2E.adminEmail, E2E.adminPassword);
    await page.getByRole("link", { name: "demo-shop" }).click();
    await page.getByRole("button", { name: "Run snapshot" }).click();
    await expect(page.getByTestId("latest-run")).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
    await page.getByRole("button", { name: "Start stream" }).click();
    const status = page.getByTestId("stream-status");
    await expect(status).toHaveAttribute("data-state", "streaming", { timeout: 60_000 });

    await db.query("INSERT INTO customers (customer_id, email, first_name, last_name, country, preferences) VALUES (5001, 'streamed@example.com', 'Stream', 'Ed', 'DE', '{\"theme\": \"dark\"}')");
    await db.query("UPDATE customers SET email = 'renamed-1@example.com' WHERE customer_id = 1");
    await db.query("INSERT INTO customers (customer_id, email, first_name, last_name, country) VALUES (5002, 'short-lived@example.com', 'Short', 'Lived', 'FR')");
    await db.query("DELETE FROM customers WHERE customer_id = 5002");
    await expect(page.getByTestId("stream-cursor")).toHaveText(/^pg_lsn:/, { timeout: 30_000 });
    await screenshot(page, testInfo, "stream-running");

    await page.getByRole("link", { name: "Contexts" }).click();
    await page.getByLabel("Context type").fill("customer-context");
    const lookUp = async (id: string) => {
      await page.getByLabel("Context id").fill(id);
      await page.getByRole("button", { name: "Look up" }).click();
    };
    await expect(async () => {
      await lookUp("5001");
      await expect(page.getByTestId("context-detail")).toContainText("streamed@example.com", { timeout: 1000 });
    }).toPass({ timeout: 30_000 });
    await expect(page.getByTestId("context-detail")).toContainText("dark");
    await expect(async () => {
      await lookUp("1");
      await expect(page.getByTestId("context-detail")).toContainText("renamed-1@example.com", { timeout: 1000 });
    }).toPass({ timeout: 30_000 });
    await expect(async () => {
      await lookUp("5002");
      await expect(page.getByTestId("context-detail")).toContainText("deleted", { timeout: 1000 });
    }).toPass({ timeout: 30_000 });
    await lookUp("999999");
    await expect(page.getByTestId("context-not-found")).toBeVisible();
    await screenshot(page, testInfo, "contexts-streamed");

    // Broken JSON from the stream: a dead letter, the stream goes on.
    await db.query("INSERT INTO customers (customer_id, email, first_name, last_name, country, preferences) VALUES (5003, 'broken@example.com', 'Bro', 'Ken', 'US', '{not json')");
    await page.getByRole("link", { name: /Dead letters/ }).click();
    await page.getByLabel("Source").selectOption({ label: "demo-shop" });
    const row = page.getByTestId("dead-letter-row").filter({ hasText: "5003" });
    await expect(row).toHaveCount(1, { timeout: 30_000 });
    await row.getByRole("button").first().click();
    await expect(page.getByTestId("dead-letter-detail")).toContainText("data.preferences");
    await screenshot(page, testInfo, "dead-letter-from-stream");

    // Fix the row at the source, replay the dead letter: it succeeds and leaves the open list.
    await db.query("UPDATE customers SET preferences = '{\"fixed\": true}' WHERE customer_id = 5003");
    await page.getByRole("link", { name: "Contexts" }).click();
    await page.getByLabel("Context type").fill("customer-context");
    await expect(async () => {
      await lookUp("5003");
      await expect(page.getByTestId("context-detail")).toContainText("fixed", { timeout: 1000 });
    }).toPass({ timeout: 30_000 });
    await page.getByRole("link", { name: /Dead letters/ }).click();
    await page.getByLabel("Source").selectOption({ label: "demo-shop" });
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Replay all matching" }).click();
    await expect(page.getByTestId("replay-run")).toHaveAttribute("data-status", "succeeded", { timeout: 30_000 });
    await expect(page.getByTestId("dead-letter-row").filter({ hasText: "5003" })).toHaveCount(0);

    await page.getByRole("link", { name: "Sources" }).click();
    await page.getByRole("link", { name: "demo-shop" }).click();
    await expect(page.getByTestId("run-row").filter({ hasText: "stream" }).first()).toHaveAttribute("data-status", "running");
    await page.getByRole("button", { name: "Stop stream" }).click();
    await expect(status).toHaveAttribute("data-state", "idle", { timeout: 30_000 });
    await screenshot(page, testInfo, "source-with-stream-history");
    await page.getByRole("link", { name: "Alerts" }).click();
    await expect(page.getByRole("heading", { name: "Alerts" })).toBeVisible();
    await screenshot(page, testInfo, "alerts");
  } finally {
    await db.end();
  }
});
