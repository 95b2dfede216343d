// A viewer sees everything and can change nothing. Runs after the journeys (files run in name
// order), so there is a mapped, snapshotted and streamed source, dead letters and contexts to look
// at. Every control that changes something is disabled in the console, and the server refuses the
// same changes made with the viewer's own session (test/integration/viewer.test.ts checks every
// procedure and route exhaustively).
import { expect, test, type Page } from "@playwright/test";
import { adminApi, screenshot, signIn } from "./helpers.ts";

async function expectDisabled(page: Page, names: (string | RegExp)[]) {
  for (const name of names) await expect(page.getByRole("button", { name }).first(), String(name)).toBeDisabled();
}

test("a viewer sees every page and every record, and can change nothing", async ({ page, request }, testInfo) => {
  test.setTimeout(120_000);
  const admin = adminApi(request);
  const email = `viewer-${Date.now()}@ecm.local`;
  expect((await admin.post("/users", { email, name: "Viewer", password: "viewer-password-1", role: "viewer" })).status()).toBe(201);
  const sources = (await (await admin.get("/sources")).json()).sources as { id: string; name: string }[];
  const demo = sources.find((s) => s.name === "demo-shop")!;
  const before = { mapping: (await (await admin.get(`/sources/${demo.id}/mappings`)).json()).version, runs: (await (await admin.get(`/runs?source_id=${demo.id}`)).json()).runs.length };

  await signIn(page, email, "viewer-password-1");
  // Sources: listed with their state; adding one is not offered; settings are for admins.
  await expect(page.getByTestId("source-row")).toHaveCount(sources.length);
  await expect(page.getByRole("button", { name: "Add source" })).toBeDisabled();
  await expect(page.getByRole("link", { name: "Settings" })).toHaveCount(0);
  await screenshot(page, testInfo, "viewer-sources");

  // A source: its health can be checked (a read), nothing else can be started or changed.
  await page.getByRole("link", { name: "demo-shop" }).click();
  await expect(page.getByTestId("entity-row")).not.toHaveCount(0);
  await page.getByRole("button", { name: "Test connection" }).click();
  await expect(page.getByTestId("health-checks").locator('[data-check="reachable"]')).toHaveAttribute("data-status", "pass");
  await expect(page.getByTestId("latest-run")).toBeVisible();
  await expectDisabled(page, ["Run snapshot", /^(Start|Stop) stream$/, "Set cursor", /^Delete$/, /^Edit$/]);
  await screenshot(page, testInfo, "viewer-source");

  // The mapping: visible in both forms with its live preview; nothing can be edited or saved.
  await page.getByRole("link", { name: /mapping/i }).first().click();
  await expect(page.getByTestId("visual-entry").first()).toBeVisible();
  await expect(page.getByTestId("preview-record").first()).toBeVisible();
  await expectDisabled(page, [/^Save as version/, "Add mapping", /^Map /, "Remove"]);
  await expect(page.getByLabel("Target path of field 1").first()).toBeDisabled();
  await page.getByRole("tab", { name: /JSON/ }).click();
  await expect(page.getByLabel("JSON")).toBeDisabled();

  // Dead letters, replayed ones included: readable, never replayed or discarded by a viewer.
  await page.getByRole("link", { name: /Dead letters/ }).click();
  await page.getByLabel("Status").selectOption("replayed");
  const row = page.getByTestId("dead-letter-row").first();
  await expect(row).toBeVisible();
  await row.getByRole("button").first().click();
  await expect(page.getByTestId("dead-letter-detail")).toContainText("Record");
  await expectDisabled(page, ["Replay all matching", /^Replay selected/, "Replay", "Discard"]);
  await screenshot(page, testInfo, "viewer-dead-letters");

  // Contexts: browsable.
  await page.getByRole("link", { name: "Contexts" }).click();
  await page.getByLabel("Context type").fill("customer-context");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page.getByTestId("contexts").locator("tbody tr").first()).toBeVisible();

  // The server refuses the viewer's session too, for its role (the requests come from the console's
  // own origin, so the cross-site check passes), and nothing changed.
  const sameOrigin = { origin: new URL(page.url()).origin };
  expect((await page.request.post(`/api/v1/sources/${demo.id}/snapshot`, { data: {}, headers: sameOrigin })).status()).toBe(403);
  expect((await page.request.put(`/api/v1/sources/${demo.id}/mappings`, { data: { mappings: [] }, headers: sameOrigin })).status()).toBe(403);
  expect((await page.request.post("/api/trpc/streams.action", { data: { json: { id: demo.id, action: "start" } }, headers: sameOrigin })).status()).toBe(403);
  expect((await (await admin.get(`/sources/${demo.id}/mappings`)).json()).version).toBe(before.mapping);
  expect((await (await admin.get(`/runs?source_id=${demo.id}`)).json()).runs.length).toBe(before.runs);
});
