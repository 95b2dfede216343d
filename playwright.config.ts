import { defineConfig } from "@playwright/test";

// End-to-end tests run against the product started as a user starts it (`npm start`, embedded
// defaults, fresh data dir), in Debian's Chromium (no browser download).
const PORT = Number(process.env.E2E_PORT ?? 3210);
export const E2E = {
  baseURL: `http://localhost:${PORT}`,
  adminEmail: "e2e-admin@ecm.local",
  adminPassword: "e2e-admin-password",
  apiToken: process.env.E2E_API_TOKEN ?? "e2e-api-token-0123456789abcdef",
};

export default defineConfig({
  testDir: "e2e",
  forbidOnly: !!process.env.CI,
  retries: process.env.CI ? 1 : 0,
  workers: 1,
  timeout: 60_000,
  reporter: [["list"]],
  outputDir: "test-results/e2e",
  use: {
    baseURL: E2E.baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    viewport: { width: 1366, height: 860 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
      ],
    },
  },
  webServer: {
    command: "rm -rf .data/e2e && npm start",
    url: `${E2E.baseURL}/api/v1/health`,
    timeout: 300_000,
    reuseExistingServer: false,
    stdout: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 30_000 },
    env: {
      PORT: String(PORT),
      ECM_DATA_DIR: ".data/e2e",
      ECM_ADMIN_EMAIL: E2E.adminEmail,
      ECM_ADMIN_PASSWORD: E2E.adminPassword,
      ECM_API_TOKEN: E2E.apiToken,
      DATABASE_URL: "",
      REDIS_URL: "",
      ECM_SECRET_KEY: "",
    },
  },
});
