// What a newcomer sees: `npm start` on a fresh data dir (the second Playwright server), then the
// console in Chromium. The demo source comes alive by itself (mapping, snapshot, stream, demo
// writer): within a minute its charts move, its contexts fill and a dead letter waits. Then a
// sweep of every console page and panel at a desktop and a phone size, with that data: no
// "[object Object]", "undefined" or "NaN" in visible text, no card wider than itself, no console
// error, no failed request; a screenshot of each.
import { expect, test, type Page, type TestInfo } from "@playwright/test";
import { E2E } from "../playwright.config.ts";
import { screenshot, signIn } from "./helpers.ts";

async function demoSourceId(page: Page): Promise<string> {
  const res = await page.request.get("/api/v1/sources", { headers: { authorization: `Bearer ${E2E.apiToken}` } });
  const demo = (await res.json()).sources.find((s: { name: string }) => s.name === "demo-shop");
  expect(demo, "the demo source is registered on first start").toBeTruthy();
  return demo.id;
}

test("a fresh start comes alive: moving charts, contexts and an open dead letter within a minute", async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  await signIn(page, E2E.adminEmail, E2E.adminPassword);
  const id = await demoSourceId(page);
  await page.getByRole("link", { name: "demo-shop" }).click();
  await expect(page.getByTestId("demo-writer")).toHaveAttribute("data-on", "true");
  // The stream runs and its throughput chart moves (the demo writer changes rows every second).
  await expect(page.getByTestId("stream-status")).toHaveAttribute("data-state", "streaming", { timeout: 60_000 });
  // The page header shows the one state the status API and the sources list give (it said "idle"
  // while the stream was streaming).
  const apiState = async () => (await (await page.request.get(`/api/v1/sources/${id}/status`, { headers: { authorization: `Bearer ${E2E.apiToken}` } })).json()).state;
  await expect.poll(apiState, { timeout: 30_000 }).toBe("streaming");
  await expect(page.getByTestId("source-state")).toHaveAttribute("data-state", "streaming");
  const chart = page.getByRole("img", { name: /^Throughput/ }).locator("polyline");
  await expect(chart).toBeVisible({ timeout: 30_000 });
  const before = await chart.getAttribute("points");
  await expect.poll(async () => chart.getAttribute("points"), { timeout: 15_000 }).not.toBe(before);
  await expect(page.getByRole("img", { name: /^Throughput/ })).not.toHaveAccessibleName(/: 0\/s$/, { timeout: 20_000 });
  await expect(page.getByTestId("latest-run")).toHaveAttribute("data-status", /succeeded|running/);
  await screenshot(page, testInfo, "first-run-source");

  // Contexts of the spec's example mapping, and the broken preferences waiting as dead letters.
  await page.goto("/contexts");
  await page.getByLabel("Context type").fill("demo-customer");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page.getByTestId("contexts").locator("tbody tr").first()).toBeVisible();
  await expect(page.getByTestId("open-dead-letters")).not.toHaveText("0");
  await page.goto(`/dead-letters?source_id=${id}`);
  await expect(page.getByTestId("dead-letter-row").first()).toBeVisible();
  await screenshot(page, testInfo, "first-run-dead-letters");

  // The demo writer can be paused from the console, and resumed.
  await page.goto(`/sources/${id}`);
  await page.getByRole("button", { name: "Pause demo writer" }).click();
  await expect(page.getByTestId("demo-writer")).toHaveAttribute("data-on", "false");
  await page.getByRole("button", { name: "Resume demo writer" }).click();
  await expect(page.getByTestId("demo-writer")).toHaveAttribute("data-on", "true");
});

const VIEWPORTS = [
  { name: "desktop", width: 1400, height: 900 },
  { name: "phone", width: 390, height: 844 },
];

type Problem = string;

/** Watches a page for console errors and failed requests while `fn` runs. */
async function watched(page: Page, fn: (problems: Problem[]) => Promise<void>) {
  const problems: Problem[] = [];
  const onConsole = (m: import("@playwright/test").ConsoleMessage) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  };
  const onFailed = (r: import("@playwright/test").Request) => {
    // A navigation away aborts the page's pending polls: that is not a failure.
    if (!/ERR_ABORTED/.test(r.failure()?.errorText ?? "")) problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`);
  };
  const onResponse = (r: import("@playwright/test").Response) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  };
  page.on("console", onConsole);
  page.on("requestfailed", onFailed);
  page.on("response", onResponse);
  try {
    await fn(problems);
  } finally {
    page.off("console", onConsole);
    page.off("requestfailed", onFailed);
    page.off("response", onResponse);
  }
}

/** What a user would catch out on the page as it stands: broken text, cards wider than themselves. */
async function inspect(page: Page, where: string): Promise<Problem[]> {
  return page.evaluate((where) => {
    const out: string[] = [];
    const text = document.body.innerText;
    for (const bad of ["[object Object]", "undefined", "NaN"]) {
      const re = new RegExp(`(^|[^A-Za-z])${bad.replace(/[[\]]/g, "\\$&")}([^A-Za-z]|$)`);
      const m = re.exec(text);
      if (m) out.push(`${where}: "${bad}" in visible text: …${text.slice(Math.max(0, m.index - 40), m.index + 40).replace(/\s+/g, " ")}…`);
    }
    for (const card of document.querySelectorAll<HTMLElement>("section.rounded-lg, [data-card]")) {
      const name = card.querySelector("h2")?.textContent ?? card.className;
      if (card.scrollWidth > card.clientWidth + 1) out.push(`${where}: card "${name}" overflows (${card.scrollWidth} > ${card.clientWidth})`);
      // Inside a card only data may scroll sideways (a table, a block of JSON): text, forms and
      // buttons that run past its edge are cut off.
      for (const body of card.querySelectorAll<HTMLElement>(":scope > div")) {
        if (body.scrollWidth <= body.clientWidth + 1) continue;
        const edge = body.getBoundingClientRect().right;
        const cut = [...body.querySelectorAll<HTMLElement>("*")].filter((el) => el.getBoundingClientRect().right > edge + 1 && !el.closest("table, pre"));
        if (cut.length) out.push(`${where}: card "${name}" cuts off <${cut[0]!.tagName.toLowerCase()}> "${(cut[0]!.textContent ?? "").trim().slice(0, 40)}"`);
      }
    }
    if (document.documentElement.scrollWidth > window.innerWidth + 1) out.push(`${where}: the page scrolls sideways (${document.documentElement.scrollWidth} > ${window.innerWidth})`);
    return out;
  }, where);
}

/**
 * The navigation column, scrolled to the page's end: beside the page from top to bottom of the
 * window on a desktop (it once ended partway down, its "workers online" line floating mid-page),
 * across the whole width on a phone.
 */
async function inspectNavigation(page: Page, where: string): Promise<Problem[]> {
  return page.evaluate(async (where) => {
    window.scrollTo(0, document.documentElement.scrollHeight);
    await new Promise((r) => requestAnimationFrame(() => r(null)));
    const nav = document.querySelector("aside")?.getBoundingClientRect();
    const workers = document.querySelector("[data-testid=workers]")?.getBoundingClientRect();
    window.scrollTo(0, 0);
    if (!nav) return [`${where}: no navigation column`];
    const out: string[] = [];
    if (window.innerWidth >= 768) {
      if (nav.top > 1 || nav.bottom < window.innerHeight - 1) out.push(`${where}: the navigation column spans ${Math.round(nav.top)}–${Math.round(nav.bottom)} of a ${window.innerHeight} px window at the page's end`);
      if (workers && workers.bottom < window.innerHeight - 80) out.push(`${where}: the workers line floats at ${Math.round(workers.bottom)} px, not at the column's foot`);
    } else if (nav.width < window.innerWidth - 1) out.push(`${where}: the navigation bar is ${Math.round(nav.width)} px of a ${window.innerWidth} px window`);
    return out;
  }, where);
}

async function visit(page: Page, testInfo: TestInfo, label: string, url: string | null, problems: Problem[], ready: () => Promise<void>) {
  if (url) await page.goto(url);
  await ready();
  await page.waitForLoadState("networkidle").catch(() => {}); // polls never go fully idle
  problems.push(...(await inspect(page, label)), ...(await inspectNavigation(page, label)));
  await screenshot(page, testInfo, label);
}

for (const vp of VIEWPORTS) {
  test(`every console page and panel holds up at ${vp.width}×${vp.height} with the demo's data`, async ({ page }, testInfo) => {
    test.setTimeout(240_000);
    await page.setViewportSize({ width: vp.width, height: vp.height });
    await signIn(page, E2E.adminEmail, E2E.adminPassword);
    const id = await demoSourceId(page);
    await watched(page, async (problems) => {
      const at = (name: string) => `${vp.name}-${name}`;
      const heading = (name: RegExp) => () => expect(page.getByRole("heading", { name }).first()).toBeVisible();
      await visit(page, testInfo, at("sources"), "/sources", problems, () => expect(page.getByRole("link", { name: "demo-shop" })).toBeVisible());
      await visit(page, testInfo, at("source"), `/sources/${id}`, problems, () => expect(page.getByTestId("stream-status")).toBeVisible());
      // The state the page shows is the status API's (polled: both follow the stream).
      const apiState = async () => (await (await page.request.get(`/api/v1/sources/${id}/status`, { headers: { authorization: `Bearer ${E2E.apiToken}` } })).json()).state as string;
      await expect.poll(async () => ((await page.getByTestId("source-state").getAttribute("data-state")) === (await apiState()) ? "same" : "different"), { timeout: 15_000 }).toBe("same");
      await page.getByRole("button", { name: "Test connection" }).click();
      await visit(page, testInfo, at("source-health"), null, problems, () => expect(page.getByTestId("health-checks").locator('[data-check="reachable"]')).toBeVisible());
      await visit(page, testInfo, at("source-edit"), `/sources/${id}/edit`, problems, () => expect(page.getByLabel("Name", { exact: true })).toHaveValue("demo-shop"));
      await visit(page, testInfo, at("source-new"), "/sources/new", problems, () => expect(page.getByLabel("Host", { exact: true })).toBeVisible());
      await visit(page, testInfo, at("entity"), `/sources/${id}/entities/customers`, problems, heading(/customers/));
      await visit(page, testInfo, at("mapping"), `/sources/${id}/mapping`, problems, () => expect(page.getByTestId("preview-record").first()).toBeVisible({ timeout: 30_000 }));
      await page.getByRole("tab", { name: /JSON/ }).click();
      await visit(page, testInfo, at("mapping-json"), null, problems, () => expect(page.getByLabel("JSON")).toBeVisible());
      await visit(page, testInfo, at("contexts"), "/contexts", problems, heading(/Contexts/));
      await page.getByLabel("Context type").fill("demo-customer");
      await page.getByRole("button", { name: "Show" }).click();
      await page.getByTestId("contexts").locator("tbody tr").first().getByRole("button").first().click();
      await visit(page, testInfo, at("context-detail"), null, problems, () => expect(page.getByTestId("context-detail")).toBeVisible());
      await visit(page, testInfo, at("dead-letters"), `/dead-letters?source_id=${id}`, problems, () => expect(page.getByTestId("dead-letter-row").first()).toBeVisible());
      await page.getByTestId("dead-letter-row").first().getByRole("button").first().click();
      await visit(page, testInfo, at("dead-letter-detail"), null, problems, () => expect(page.getByTestId("dead-letter-detail")).toBeVisible());
      await visit(page, testInfo, at("alerts"), "/alerts", problems, heading(/Alerts/));
      await visit(page, testInfo, at("settings"), "/settings", problems, heading(/Settings/));
      await visit(page, testInfo, at("audit"), "/audit", problems, heading(/Audit/));
      expect(problems, problems.join("\n")).toEqual([]);
    });
  });
}
