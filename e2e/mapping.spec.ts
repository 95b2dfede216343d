// Map the demo source's customers like the spec's example, see the broken JSON rows fail in the
// live preview, save, run a snapshot to 100 %, and find the contexts in the console.
import { expect, test } from "@playwright/test";
import { E2E } from "../playwright.config.ts";
import { CUSTOMER_MAPPING as MAPPING, screenshot, signIn } from "./helpers.ts";

test("map, preview, save, snapshot, browse contexts", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  await signIn(page, E2E.adminEmail, E2E.adminPassword);
  await page.getByRole("link", { name: "demo-shop" }).click();
  await page.getByRole("link", { name: "Create mapping" }).click();
  await page.getByRole("tab", { name: /JSON/ }).click();

  // An invalid draft: its problem is named by field path, and nothing is saved.
  const editor = page.getByLabel("JSON");
  await editor.fill(JSON.stringify({ mappings: [{ ...MAPPING.mappings[0], fields: [{ source: "emial", target: "data.email" }] }] }, null, 2));
  await expect(page.getByTestId("mapping-issues")).toContainText("mappings[0].fields[0].source");

  await editor.fill(JSON.stringify(MAPPING, null, 2));
  const preview = page.getByTestId("preview");
  await expect(preview.getByTestId("preview-record").first()).toContainText("customer1@example.com");
  await expect(page.getByTestId("mapping-issues")).toHaveCount(0);
  await screenshot(page, testInfo, "mapping-preview");

  await page.getByRole("button", { name: "Save as version 1" }).click();
  await expect(page.getByTestId("saved")).toContainText("version 1");

  await page.getByRole("link", { name: "demo-shop" }).click();
  await page.getByRole("button", { name: "Run snapshot" }).click();
  const run = page.getByTestId("latest-run");
  await expect(run).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  await expect(page.getByRole("progressbar", { name: "Snapshot progress" })).toHaveAttribute("aria-valuenow", "100");
  await expect(page.getByTestId("run-counters")).toContainText("written 1,980");
  await expect(page.getByTestId("run-counters")).toContainText("record errors 20");
  await screenshot(page, testInfo, "snapshot-done");

  await page.getByRole("link", { name: "Contexts" }).click();
  await page.getByLabel("Context type").fill("customer-context");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page.getByTestId("contexts").locator("tbody tr")).toHaveCount(50);
  await page.getByTestId("contexts").getByRole("button", { name: "1", exact: true }).click();
  await expect(page.getByTestId("context-detail")).toContainText("customer1@example.com");
  await screenshot(page, testInfo, "contexts");

  // The 20 customers whose preferences are broken JSON wait in the dead-letter workbench.
  await expect(page.getByTestId("open-dead-letters")).toHaveText("20");
  await page.getByRole("link", { name: /Dead letters/ }).click();
  await page.getByLabel("Source").selectOption({ label: "demo-shop" });
  await expect(page.getByTestId("dead-letter-row")).toHaveCount(20);
  await page.getByTestId("dead-letter-row").filter({ hasText: "97" }).first().getByRole("button").click();
  const detail = page.getByTestId("dead-letter-detail");
  await expect(detail).toContainText("invalid JSON");
  await expect(detail).toContainText("data.preferences");
  await screenshot(page, testInfo, "dead-letters");

  // Fix the mapping (keep preferences as text where it is not JSON), then replay all of them.
  await detail.getByRole("link", { name: "Open the mapping at data.preferences" }).click();
  // The mapping opens on the field that failed.
  await expect(page.locator('[data-testid="visual-field"][data-focused="true"] input').first()).toHaveValue("data.preferences");
  await page.getByRole("tab", { name: /JSON/ }).click();
  const fixed = structuredClone(MAPPING);
  fixed.mappings[0]!.fields[2] = { source: "preferences", target: "data.preferences_text" } as never;
  await page.getByLabel("JSON").fill(JSON.stringify(fixed, null, 2));
  await expect(page.getByTestId("preview-record").first()).toContainText("preferences_text");
  await page.getByRole("button", { name: "Save as version 2" }).click();
  await expect(page.getByTestId("saved")).toContainText("version 2");

  await page.getByRole("link", { name: /Dead letters/ }).click();
  await page.getByLabel("Source").selectOption({ label: "demo-shop" });
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Replay all matching" }).click();
  await expect(page.getByTestId("replay-run")).toHaveAttribute("data-status", "succeeded", { timeout: 30_000 });
  await expect(page.getByTestId("replay-run")).toContainText("20 written");
  await expect(page.getByTestId("dead-letter-row")).toHaveCount(0);
  await expect(page.getByTestId("open-dead-letters")).toHaveCount(0);
});
