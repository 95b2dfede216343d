// The demo source through the PostgreSQL connector: test its connection, browse its tables,
// look at a table's columns and sample rows.
import { expect, test } from "@playwright/test";
import { E2E } from "../playwright.config.ts";
import { screenshot, signIn } from "./helpers.ts";

test("test the demo source's connection, browse its entities, open customers", async ({ page }, testInfo) => {
  await signIn(page, E2E.adminEmail, E2E.adminPassword);
  await page.getByRole("link", { name: "demo-shop" }).click();

  await page.getByRole("button", { name: "Test connection" }).click();
  const checks = page.getByTestId("health-checks");
  for (const name of ["reachable", "authenticated", "wal_level", "replication_privilege", "publication", "replication_slot"]) {
    await expect(checks.locator(`[data-check="${name}"]`)).toHaveAttribute("data-status", "pass");
  }

  const rows = page.getByTestId("entity-row");
  await expect(rows).toHaveCount(4);
  await expect(rows.filter({ hasText: "order_items" })).toContainText("order_id, line_no");
  await screenshot(page, testInfo, "source-overview");

  await page.getByRole("link", { name: "customers" }).click();
  const columns = page.getByTestId("columns");
  await expect(columns).toContainText("customer_id");
  await expect(columns).toContainText("preferences");
  await expect(columns.locator("tr", { hasText: "customer_id" })).toContainText("PK 1");
  const sample = page.getByTestId("sample-rows");
  await expect(sample.locator("tbody tr")).toHaveCount(20);
  await expect(sample).toContainText("customer1@example.com");
  await screenshot(page, testInfo, "entity-browser");
});

test("test a draft connection before saving it: a wrong password is reported with its hint", async ({ page }) => {
  await signIn(page, E2E.adminEmail, E2E.adminPassword);
  const sources = await (await page.request.get("/api/v1/sources", { headers: { authorization: `Bearer ${E2E.apiToken}` } })).json();
  const demo = sources.sources.find((s: { name: string }) => s.name === "demo-shop");
  await page.goto("/sources/new");
  await page.getByLabel("Name", { exact: true }).fill("draft");
  await page.getByLabel("Host", { exact: true }).fill("127.0.0.1");
  await page.getByLabel("Port", { exact: true }).fill(String(demo.config.connection.port));
  await page.getByLabel("Database", { exact: true }).fill("ecm_demo");
  await page.getByLabel("Username", { exact: true }).fill("ecm_demo");
  await page.getByLabel("SSL mode", { exact: true }).selectOption("disable");
  await page.getByRole("radio", { name: "typed value" }).check();
  await page.locator("#cfg-authentication-password_secret").fill("not-the-password");
  await page.getByRole("button", { name: "Test connection" }).click();
  const failed = page.getByTestId("health-checks").locator('[data-check="authenticated"]');
  await expect(failed).toHaveAttribute("data-status", "fail");
  await expect(failed).toContainText("check the username and the password");
  const after = await (await page.request.get("/api/v1/sources", { headers: { authorization: `Bearer ${E2E.apiToken}` } })).json();
  expect(after.sources.map((s: { name: string }) => s.name)).not.toContain("draft"); // testing saves nothing
});
