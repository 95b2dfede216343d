// The foundation journey: sign in, see the demo source, add a source by pasting the spec's config,
// see field-path errors for a bad one, sign out; a viewer can look but not change anything.
import { expect, test } from "@playwright/test";
import { E2E } from "../playwright.config.ts";
import { adminApi, screenshot, signIn, signOut } from "./helpers.ts";

const SPEC_CONFIG = {
  connector_type: "postgresql",
  connection: { host: "127.0.0.1", port: 5432, database: "production", ssl_mode: "require" },
  authentication: { type: "credentials", username: "ecm_reader", password_secret: "vault://db/postgres/password" },
  options: { batch_size: 1000, change_tracking: "cdc" },
};

test("an admin signs in, sees the demo source, adds a source from the spec's JSON, and signs out", async ({ page, request }, testInfo) => {
  await page.goto("/sources");
  await expect(page).toHaveURL(/\/login/); // the console needs a session
  await screenshot(page, testInfo, "login");

  await signIn(page, E2E.adminEmail, E2E.adminPassword);
  await expect(page.getByRole("link", { name: "demo-shop" })).toBeVisible();
  await expect(page.getByText(/worker(s)? online/)).toBeVisible({ timeout: 30_000 });
  await screenshot(page, testInfo, "sources-list");

  // A bad config: field-path errors, nothing saved.
  const before = (await (await adminApi(request).get("/sources")).json()).sources.length;
  await page.getByRole("link", { name: "Add source" }).click();
  await page.getByLabel("Name", { exact: true }).fill("broken");
  await page.getByRole("tab", { name: "Paste JSON" }).click();
  const bad = { ...SPEC_CONFIG, connection: { host: "", port: "5432", database: "production", ssl_mode: "sometimes" } };
  await page.getByLabel(/Connection configuration/).fill(JSON.stringify(bad, null, 2));
  await page.getByRole("button", { name: "Create source" }).click();
  const issues = page.getByTestId("issues");
  await expect(issues).toContainText("config.connection.host");
  await expect(issues).toContainText("config.connection.port");
  await expect(issues).toContainText("config.connection.ssl_mode");
  await screenshot(page, testInfo, "add-source-errors");
  expect((await (await adminApi(request).get("/sources")).json()).sources.length).toBe(before);

  // The field errors also land on the form's fields.
  await page.getByRole("tab", { name: "Connection form" }).click();
  await expect(page.getByLabel("Host", { exact: true })).toHaveAttribute("aria-invalid", "true");

  // The spec's example config, pasted as written (with a reachable host).
  await page.getByRole("tab", { name: "Paste JSON" }).click();
  await page.getByLabel("Name", { exact: true }).fill("production");
  await page.getByLabel(/Connection configuration/).fill(JSON.stringify(SPEC_CONFIG, null, 2));
  await page.getByRole("button", { name: "Create source" }).click();
  await expect(page.getByRole("heading", { name: /production/ })).toBeVisible();
  await expect(page.getByTestId("password-reference")).toHaveText("vault://db/postgres/password");
  await screenshot(page, testInfo, "source-detail");

  // Export its config (the spec's format, the secret only as its reference), edit it by importing
  // a changed file, save: the change shows and the reference is kept.
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Export JSON" }).click();
  const exported = JSON.parse(await (await (await download).createReadStream()).toArray().then((c) => Buffer.concat(c).toString("utf8")));
  expect(exported).toMatchObject({ connector_type: "postgresql", authentication: { password_secret: "vault://db/postgres/password" } });
  await page.getByRole("link", { name: "Edit" }).click();
  await expect(page.getByLabel("Name", { exact: true })).toHaveValue("production");
  await page.getByRole("tab", { name: "Paste JSON" }).click();
  const changed = { ...exported, options: { ...exported.options, batch_size: 2500 } };
  await page.locator('input[type="file"]').setInputFiles({ name: "production.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(changed)) });
  await expect(page.getByLabel(/Connection configuration/)).toHaveValue(/2500/);
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("heading", { name: /production/ })).toBeVisible();
  await expect(page.getByTestId("password-reference")).toHaveText("vault://db/postgres/password");
  await expect(page.getByText("2500", { exact: true })).toBeVisible();

  await page.getByRole("link", { name: "Sources" }).first().click();
  await expect(page.getByTestId("source-row")).toHaveCount(before + 1);

  await signOut(page);
  await page.goto("/sources");
  await expect(page).toHaveURL(/\/login/);
});

test("a typed password is stored encrypted and shown only as a secret:// reference", async ({ page }) => {
  await signIn(page, E2E.adminEmail, E2E.adminPassword);
  await page.goto("/sources/new");
  await page.getByLabel("Name", { exact: true }).fill("typed-password");
  await page.getByLabel("Host", { exact: true }).fill("127.0.0.1");
  await page.getByLabel("Database", { exact: true }).fill("shop");
  await page.getByLabel("Username", { exact: true }).fill("reader");
  await page.getByRole("radio", { name: "typed value" }).check();
  await page.locator("#cfg-authentication-password_secret").fill("e2e-canary-password");
  await page.getByRole("button", { name: "Create source" }).click();
  await expect(page.getByTestId("password-reference")).toHaveText(/^secret:\/\/[0-9a-f-]{36}$/);
  await expect(page.locator("body")).not.toContainText("e2e-canary-password");
});
