import { defineConfig } from "@playwright/test";

// End-to-end tests run against the product started as a user starts it (`npm start`, embedded
// defaults, fresh data dir), in Debian's Chromium (no browser download).
const PORT = Number(process.env.E2E_PORT ?? 3210);
// A second installation, started the way a newcomer starts it, whose demo comes alive (first-run
// journey and the page sweep); the first keeps its demo source as registered (ECM_DEMO_LIVE=off)
// for the journeys that map it themselves.
const LIVE_PORT = Number(process.env.E2E_LIVE_PORT ?? 3211);
export const E2E_LIVE_URL = `http://localhost:${LIVE_PORT}`;
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
  // The first run goes first: its demo must come alive within a minute of a fresh start.
  projects: [
    { name: "first-run", testMatch: /first-run\.spec\.ts/, use: { baseURL: E2E_LIVE_URL } },
    { name: "console", testIgnore: /first-run\.spec\.ts/ },
  ],
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
  webServer: [
    {
      command: "rm -rf .data/e2e && npm start",
      url: `${E2E.baseURL}/api/v1/health`,
      timeout: 300_000,
      reuseExistingServer: false,
      stdout: "pipe",
      gracefulShutdown: { signal: "SIGTERM", timeout: 30_000 },
      env: { ...serverEnv(PORT, ".data/e2e"), ECM_DEMO_LIVE: "off" },
    },
    {
      // Started after the first (Playwright starts its servers in order), so the console is built once.
      command: "rm -rf .data/e2e-live && npm start",
      url: `${E2E_LIVE_URL}/api/v1/health`,
      timeout: 300_000,
      reuseExistingServer: false,
      stdout: "pipe",
      gracefulShutdown: { signal: "SIGTERM", timeout: 30_000 },
      // Its own database on the local Redis, should one answer (else it starts its own).
      env: { ...serverEnv(LIVE_PORT, ".data/e2e-live"), ECM_REDIS_DB: "7" },
    },
  ],
});

function serverEnv(port: number, dataDir: string) {
  return {
    PORT: String(port),
    ECM_DATA_DIR: dataDir,
    ECM_ADMIN_EMAIL: E2E.adminEmail,
    ECM_ADMIN_PASSWORD: E2E.adminPassword,
    ECM_API_TOKEN: E2E.apiToken,
    // Every spec signs in from this machine's one address, a dozen times within minutes: the
    // sign-in rate limit (10 a minute by default, tested in test/integration/auth.test.ts) would
    // refuse the later ones.
    ECM_LOGIN_RATE_LIMIT: "120",
    DATABASE_URL: "",
    REDIS_URL: "",
    ECM_SECRET_KEY: "",
  };
}
