// The audit trail in the console: a mapping saved twice in this test (through the API, as a script
// would) shows on the Audit page under who saved it, with the changed fields; its link opens the
// mapping page comparing exactly those two versions.
import { expect, test } from "@playwright/test";
import pg from "pg";
import { E2E } from "../playwright.config.ts";
import { loadState } from "../scripts/lib/data-dir.ts";
import { adminApi, screenshot, signIn } from "./helpers.ts";

const TABLE = "audit_items";
const SOURCE = "audit-e2e";

test("the Audit page shows a mapping change with its diff, and opens the versions it compares", async ({ page, request }, testInfo) => {
  test.setTimeout(120_000);
  const state = await loadState(".data/e2e");
  const db = new pg.Client({ host: "127.0.0.1", port: state.pgPort, user: "postgres", password: state.pgPassword, database: "ecm_demo" });
  await db.connect();
  const api = adminApi(request);
  try {
    await db.query(`DROP TABLE IF EXISTS ${TABLE}; CREATE TABLE ${TABLE} (id integer PRIMARY KEY, label text NOT NULL, price numeric(8,2));`);
    const created = await api.post("/sources", {
      name: SOURCE,
      config: { connector_type: "postgresql", connection: { host: "127.0.0.1", port: state.pgPort, database: "ecm_demo", ssl_mode: "disable" }, authentication: { type: "credentials", username: "postgres", password: state.pgPassword } },
    });
    expect(created.status(), await created.text()).toBe(201);
    const sourceId = (await created.json()).id as string;
    const fields = [{ source: "id", target: "context_id" }, { source: "label", target: "data.label" }];
    const mapping = (f: object[]) => ({ mappings: [{ source: { table: TABLE }, target: { context_type: "audit-item" }, fields: f }] });
    expect((await api.put(`/sources/${sourceId}/mappings`, mapping(fields))).status()).toBe(200);
    expect((await api.put(`/sources/${sourceId}/mappings`, mapping([...fields, { source: "price", target: "data.price" }]))).status()).toBe(200);

    await signIn(page, E2E.adminEmail, E2E.adminPassword);
    await page.getByRole("link", { name: "Audit", exact: true }).click();
    await page.getByLabel("Source", { exact: true }).selectOption({ label: SOURCE });
    await page.getByLabel("Kind of change").selectOption("mapping.save");
    const entries = page.getByTestId("audit-entry");
    await expect(entries).toHaveCount(2);
    const latest = entries.first();
    await expect(latest).toContainText("ECM_API_TOKEN");
    await expect(latest.getByRole("list", { name: "Changes" })).toContainText("mappings[0].fields");
    await expect(latest.getByRole("list", { name: "Changes" })).toContainText("data.price");
    await screenshot(page, testInfo, "audit-01-mapping-change");

    // The entry's link: the mapping page comparing version 1 with version 2.
    await latest.getByRole("link", { name: "version 1 → 2" }).click();
    await expect(page).toHaveURL(new RegExp(`/sources/${sourceId}/mapping\\?from=1&to=2`));
    await expect(page.getByLabel("From version")).toHaveValue("1");
    await expect(page.getByLabel("To version")).toHaveValue("2");
    await expect(page.getByTestId("version-diff")).toContainText("data.price");
    await screenshot(page, testInfo, "audit-02-version-diff");

    // A viewer or editor has no Audit page; the API refuses them too (test/integration/audit.test.ts).
    expect((await request.delete(`/api/v1/sources/${sourceId}`, { headers: { authorization: `Bearer ${E2E.apiToken}` } })).status()).toBe(204);
  } finally {
    await db.query(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => {});
    await db.end();
  }
});
