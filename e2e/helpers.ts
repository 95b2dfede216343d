import { expect, type APIRequestContext, type Page, type TestInfo } from "@playwright/test";
import { E2E } from "../playwright.config.ts";

export async function signIn(page: Page, email: string, password: string) {
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toContainText(email);
}

export async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in to ECM Connect" })).toBeVisible();
}

/** Saves a full-page screenshot as a test artifact (test-results/e2e/…). */
export async function screenshot(page: Page, testInfo: TestInfo, name: string) {
  await page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });
}

export function adminApi(request: APIRequestContext) {
  const headers = { authorization: `Bearer ${E2E.apiToken}` };
  return {
    get: (path: string) => request.get(`/api/v1${path}`, { headers }),
    post: (path: string, data: unknown) => request.post(`/api/v1${path}`, { headers, data }),
    put: (path: string, data: unknown) => request.put(`/api/v1${path}`, { headers, data }),
  };
}

/** The spec's example mapping on the demo source: customers, with preferences through json_parse. */
export { SPEC_EXAMPLE_MAPPING as CUSTOMER_MAPPING } from "../test/support/spec-mapping.ts";
