// `npm start` as a user runs it: embedded PostgreSQL and the demo source on first start, the same
// data reused on the next start, external servers when DATABASE_URL / REDIS_URL are given, and a
// clean stop of every child on SIGTERM.
import { execFileSync, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { waitFor } from "../support/wait.ts";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, startProduct, type RunningProduct } from "../support/product.ts";

const token = `start-test-token-${crypto.randomBytes(8).toString("hex")}`;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ecm-start-"));
const running: RunningProduct[] = [];
afterAll(async () => {
  for (const p of running) await p.stop("SIGTERM"); // a failed test still stops every child
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function get(p: RunningProduct, route: string) {
  const res = await fetch(`${p.url}/api/v1${route}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as any };
}

function alive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const postgresOf = (dir: string) => {
  try {
    return execFileSync("pgrep", ["-f", `postgres -D ${dir}`]).toString().trim();
  } catch {
    return "";
  }
};

async function startEmbedded() {
  const port = await freePort();
  const p = await startProduct({
    PORT: String(port),
    ECM_DATA_DIR: dataDir,
    ECM_API_TOKEN: token,
    ECM_ADMIN_PASSWORD: "start-test-admin-pw",
    DATABASE_URL: undefined,
    REDIS_URL: undefined,
    ECM_SECRET_KEY: undefined,
  });
  running.push(p);
  return p;
}

async function waitForWorker(p: RunningProduct) {
  for (let i = 0; i < 60; i++) {
    const { body } = await get(p, "/workers");
    if (body.workers?.length) return body.workers as { id: string; pid: number }[];
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no worker came up:\n${p.output()}`);
}

describe("npm start", () => {
  it("first start on embedded defaults: demo source registered, admin printed once, web and worker running", async () => {
    const p = await startEmbedded();
    expect(p.output()).toMatch(/password: start-test-admin-pw/);
    const { body } = await get(p, "/sources");
    expect(body.sources.map((s: { name: string }) => s.name)).toEqual(["demo-shop"]);
    expect(body.sources[0].config.authentication.password_secret).toMatch(/^secret:\/\//);

    // The demo source is a real database with the promised tables.
    const state = JSON.parse(fs.readFileSync(path.join(dataDir, "state.json"), "utf8"));
    const demo = new pg.Client({ connectionString: `postgresql://postgres:${state.pgPassword}@127.0.0.1:${state.pgPort}/ecm_demo` });
    await demo.connect();
    const counts = await demo.query(
      "SELECT (SELECT count(*) FROM customers)::int AS customers, (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM products)::int AS products, current_setting('wal_level') AS wal_level",
    );
    await demo.end();
    expect(counts.rows[0]).toMatchObject({ customers: 2000, products: 200, wal_level: "logical" });
    expect(counts.rows[0].orders).toBeGreaterThanOrEqual(5000); // the demo writer may have placed some already

    const workers = await waitForWorker(p);
    // The demo comes alive by itself: mapped, snapshotted, streaming, with contexts and the broken
    // preferences rows waiting as dead letters; the demo writer's changes keep arriving.
    const demoId = body.sources[0].id as string;
    expect((await get(p, `/sources/${demoId}/mappings`)).body.mappings.map((m: { target: { context_type: string } }) => m.target.context_type)).toEqual(["demo-customer", "demo-product", "demo-order", "demo-order-item"]);
    await waitFor("the demo's stream to run", async () => (await get(p, `/sources/${demoId}/status`)).body.state === "streaming", 90_000, 500);
    await waitFor("customer contexts", async () => (await get(p, "/contexts?context_type=demo-customer&limit=5")).body.contexts.length === 5, 90_000, 500);
    await waitFor("open dead letters", async () => (await get(p, `/dead-letters?source_id=${demoId}&status=open&limit=5`)).body.dead_letters.length > 0, 90_000, 500);
    const written = async () => (await get(p, `/sources/${demoId}/status`)).body.cursor as string | null;
    const first = await waitFor("a durable cursor", written, 60_000, 500);
    await waitFor("the demo writer's changes to move the cursor", async () => (await written()) !== first, 30_000, 500);
    // The demo writer writes with a login of its own, never the embedded superuser.
    const admin = new pg.Client({ connectionString: `postgresql://postgres:${state.pgPassword}@127.0.0.1:${state.pgPort}/postgres` });
    await admin.connect();
    const writer = await admin.query("SELECT usename, r.rolsuper FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename WHERE application_name = 'ecm-demo-writer'");
    await admin.end();
    expect(writer.rows).toEqual([{ usename: "ecm_demo_writer", rolsuper: false }]);
    expect(postgresOf(dataDir)).not.toBe("");

    await p.stop("SIGTERM");
    running.pop();
    expect(p.output()).toMatch(/\[ecm\] stopped/);
    for (const w of workers) {
      const ps = alive(w.pid) ? execFileSync("ps", ["-o", "pid,ppid,stat,cmd", "-p", String(w.pid)]).toString() : "";
      expect(alive(w.pid), `worker ${w.id} still alive after stop:\n${ps}`).toBe(false);
    }
    expect(postgresOf(dataDir)).toBe("");
    await expect(fetch(`${p.url}/api/v1/health`)).rejects.toThrow();
  }, 300_000);

  it("a second start on the same data reuses it: same demo source, no second admin; the ecm command works against it", async () => {
    const p = await startEmbedded();
    const { body } = await get(p, "/sources");
    expect(body.sources.map((s: { name: string }) => s.name)).toEqual(["demo-shop"]);
    expect(p.output()).not.toMatch(/password: /);
    expect(p.output()).not.toMatch(/applied migrations/);

    // The command-line client, as a script runs it: exit codes, --json, export → import.
    const ecm = (args: string[], env: Record<string, string> = {}) => {
      const r = spawnSync(process.execPath, ["bin/ecm.mjs", ...args], { env: { ...process.env, ECM_URL: p.url, ECM_TOKEN: token, ...env }, encoding: "utf8" });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const listed = ecm(["sources", "list", "--json"]);
    expect(listed.code, listed.err).toBe(0);
    expect(JSON.parse(listed.out).sources.map((s: { name: string }) => s.name)).toEqual(["demo-shop"]);
    const exported = ecm(["export", "demo-shop"]);
    expect(exported.code, exported.err).toBe(0);
    const file = path.join(dataDir, "export.json");
    fs.writeFileSync(file, exported.out);
    const doc = JSON.parse(exported.out);
    expect(doc.sources[0].config.authentication.password_secret).toMatch(/^secret:\/\//); // a reference, never the password
    const before = (await get(p, `/sources/${body.sources[0].id}`)).body.config;
    const imported = ecm(["import", file]);
    expect(imported.code, imported.err).toBe(0);
    expect(imported.out).toContain("updated demo-shop");
    expect((await get(p, `/sources/${body.sources[0].id}`)).body.config).toEqual(before); // identical configuration
    expect(ecm(["mapping", "diff", "demo-shop", file]).code).toBe(0);
    const changed = structuredClone(doc.sources[0]);
    changed.mappings[0].fields[1].transform = "lowercase";
    fs.writeFileSync(file, JSON.stringify(changed));
    const diff = ecm(["mapping", "diff", "demo-shop", file]);
    expect(diff.code).toBe(1);
    expect(diff.out).toContain('~ customers → demo-customer: data.email');
    const snap = ecm(["snapshot", "demo-shop", "--entity", "products", "--wait", "--json"]);
    expect(snap.code, snap.err).toBe(0);
    expect(JSON.parse(snap.out)).toMatchObject({ status: "succeeded", counters: { read: 200 } });
    expect(ecm(["stream", "status", "demo-shop"]).out).toMatch(/^demo-shop: \w+; cursor pg_lsn:/);
    expect(JSON.parse(ecm(["dead-letters", "list", "--source", "demo-shop", "--json"]).out).dead_letters.length).toBeGreaterThan(0);
    expect(ecm(["sources", "test", "no-such-source"]).code).toBe(3); // the API refused
    expect(ecm(["bogus"]).code).toBe(2); // usage
    expect(ecm(["sources", "list"], { ECM_TOKEN: "" }).code).toBe(2);
    expect(ecm(["sources", "list"], { ECM_URL: "http://127.0.0.1:1" }).code).toBe(4); // not reachable
    await p.stop("SIGINT");
    running.pop();
    expect(p.output()).toMatch(/\[ecm\] stopped/);
    expect(postgresOf(dataDir)).toBe("");
  }, 300_000);

  it("recovers from a supervisor killed with SIGKILL: the worker stops itself, the next start clears leftovers", async () => {
    const p = await startEmbedded();
    const workers = await waitForWorker(p);
    await p.stop("SIGKILL"); // npm, tsx and the supervisor die at once; children are in their own groups
    running.pop();
    for (let i = 0; i < 40 && workers.some((w) => alive(w.pid)); i++) await new Promise((r) => setTimeout(r, 250));
    for (const w of workers) expect(alive(w.pid), `worker ${w.id} outlived its supervisor`).toBe(false);

    const again = await startEmbedded(); // the web server left behind would hold nothing now: it was stopped first
    expect(again.output()).toMatch(/reusing the embedded PostgreSQL|stopped a leftover process/);
    expect((await get(again, "/sources")).body.sources.map((s: { name: string }) => s.name)).toEqual(["demo-shop"]);
    await again.stop("SIGTERM");
    running.pop();
    expect(again.output()).toMatch(/\[ecm\] stopped/);
    expect(postgresOf(dataDir)).toBe("");
  });

  it("uses external servers given by DATABASE_URL and REDIS_URL", async () => {
    const server = new pg.Client({ connectionString: process.env.TEST_SERVER_URL });
    await server.connect();
    await server.query("DROP DATABASE IF EXISTS ecm_external WITH (FORCE)");
    await server.query("CREATE DATABASE ecm_external");
    await server.end();
    const external = new URL(process.env.TEST_SERVER_URL!);
    external.pathname = "/ecm_external";
    const extDir = fs.mkdtempSync(path.join(os.tmpdir(), "ecm-ext-"));
    const port = await freePort();
    const p = await startProduct({
      PORT: String(port),
      ECM_DATA_DIR: extDir,
      ECM_API_TOKEN: token,
      DATABASE_URL: external.toString(),
      REDIS_URL: process.env.REDIS_URL,
      ECM_SECRET_KEY: crypto.randomBytes(32).toString("base64"),
    });
    running.push(p);
    expect((await get(p, "/sources")).body.sources).toEqual([]); // no demo source outside embedded mode
    expect(fs.existsSync(path.join(extDir, "pg"))).toBe(false); // no embedded PostgreSQL started
    const check = new pg.Client({ connectionString: external.toString() });
    await check.connect();
    const tables = await check.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'sources'");
    await check.end();
    expect(tables.rows[0].n).toBe(1);
    await p.stop();
    running.pop();
    expect(p.output()).toMatch(/\[ecm\] stopped/);
    fs.rmSync(extDir, { recursive: true, force: true });
  });
});
