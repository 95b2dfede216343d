// Build a mapping visually (no JSON typing): pick a table, map columns by choosing and by drag and
// drop, pick a transform from the documented list, watch the live preview, save a new version,
// and compare it with the previous one.
import { expect, test } from "@playwright/test";
import { E2E } from "../playwright.config.ts";
import { screenshot, signIn } from "./helpers.ts";

test("build a mapping visually with a live preview, save it, and diff the versions", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  await signIn(page, E2E.adminEmail, E2E.adminPassword);
  await page.getByRole("link", { name: "demo-shop" }).click();
  await page.getByRole("link", { name: /mapping/i }).first().click();
  await expect(page.getByRole("tab", { name: "Visual" })).toHaveAttribute("aria-selected", "true");

  await page.getByLabel("Table to map").selectOption("products");
  await page.getByRole("button", { name: "Add mapping" }).click();
  const entry = page.getByRole("region", { name: "Mapping of products" });
  await entry.getByRole("button", { name: "Map product_id" }).click(); // the key: becomes context_id
  await entry.getByRole("button", { name: "Map name" }).click();
  await entry.getByRole("button", { name: "Map attributes" }).click();
  await expect(entry.getByLabel("Target path of field 1")).toHaveValue("context_id");
  // Drag a column onto the target fields.
  await entry.getByRole("list", { name: "Columns of products" }).getByRole("listitem").filter({ hasText: "sku" }).dragTo(entry.getByText("Target fields (drop a column here)"));
  await expect(entry.getByTestId("visual-field")).toHaveCount(4);
  await entry.getByLabel("Transform of data.name").selectOption("uppercase");
  await expect(entry.getByTestId("visual-field").filter({ hasText: "uppercase:" })).toContainText("upper");

  await page.getByLabel("Entity to preview").selectOption("products");
  const record = page.getByTestId("preview-record").first();
  await expect(record).toContainText('"context_type": "products-context"');
  await expect(record).toContainText('"sku"');
  await screenshot(page, testInfo, "visual-mapping");

  const save = page.getByRole("button", { name: /Save as version/ });
  const label = (await save.textContent())!;
  await save.click();
  await expect(page.getByTestId("saved")).toContainText(label.replace("Save as ", ""));
  // Change one transform and save again: the comparison shows exactly that change.
  await entry.getByLabel("Transform of data.name").selectOption("lowercase");
  const again = (await save.textContent())!;
  await save.click();
  await expect(page.getByTestId("saved")).toContainText(again.replace("Save as ", ""));
  const diff = page.getByTestId("version-diff");
  await expect(diff).toContainText("changed");
  await expect(diff).toContainText("products → products-context: data.name");
  await expect(diff).toContainText('name | "uppercase" ⇒ name | "lowercase"');
  await screenshot(page, testInfo, "mapping-versions-diff");
});
