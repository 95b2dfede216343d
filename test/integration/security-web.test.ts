// Attacks on the real web process (`npm start` on the test's database and Redis), tried the way
// the security review tried them: prototype pollution through a viewer's preview, forged
// cross-site requests with an admin's cookie, huge bodies before authentication, a rotated
// X-Forwarded-For against the sign-in limit, and what /health tells a stranger.
import crypto from "node:crypto";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { createSource } from "../../server/sources/service.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { freePort, startProduct, type RunningProduct } from "../support/product.ts";
import { createSourceDatabase } from "../support/source-db.ts";

const ADMIN = { email: "web-admin@ecm.local", password: "web-admin-password" };
const POLLUTED = `polluted-token-${crypto.randomBytes(6).toString("hex")}`;
let product: RunningProduct;
let url: string;
let viewer: string;
let admin: string;
let sourceId: string;

beforeAll(async () => {
  await resetMetadata();
  const src = await createSourceDatabase("ecm_sec_web", "CREATE TABLE customers (id int PRIMARY KEY, email text); INSERT INTO customers VALUES (1, 'a@example.com');");
  sourceId = (await createSource({ name: "sec-web", config: src.config })).id;
  const port = await freePort();
  product = await startProduct({
    PORT: String(port),
    DATABASE_URL: process.env.DATABASE_URL,
    REDIS_URL: process.env.REDIS_URL,
    ECM_SECRET_KEY: process.env.ECM_SECRET_KEY,
    ECM_SOURCE_TEST_PASSWORD: process.env.ECM_SOURCE_TEST_PASSWORD,
    // Unset, as in the reviewer's reproduction: the admin token was read through Object.prototype.
    ECM_API_TOKEN: undefined,
    ECM_ADMIN_EMAIL: ADMIN.email,
    ECM_ADMIN_PASSWORD: ADMIN.password,
    ECM_LOGIN_RATE_LIMIT: "3",
    ECM_DATA_DIR: `.data/test/web-${port}`,
  });
  url = product.url;
  // Tokens owned by the admin the product made: it runs without ECM_API_TOKEN, so tokens that
  // ECM_API_TOKEN made would (rightly) not work there.
  const ownerId = await withDb(async (c) => (await c.query(`SELECT id FROM "user" WHERE email = $1`, [ADMIN.email])).rows[0].id as string);
  const by = { kind: "user" as const, id: ownerId, name: ADMIN.email, role: "admin" as const };
  viewer = (await createToken({ name: "viewer", role: "viewer" }, by)).token;
  admin = (await createToken({ name: "admin", role: "admin" }, by)).token;
}, 300_000);

afterAll(async () => {
  await product?.stop("SIGTERM");
});

const call = (method: string, path: string, opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) =>
  fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  }).then(async (r) => ({ status: r.status, body: (await r.json().catch(() => null)) as any }));

async function expectNotPolluted() {
  // The escalation itself: a bearer token equal to the polluted value must not be admin.
  expect((await call("GET", "/api/v1/users", { token: POLLUTED })).status).toBe(401);
  // And the process is healthy: it answers, and a normal admin call works.
  expect((await call("GET", "/api/v1/health")).status).toBe(200);
  expect((await call("GET", "/api/v1/sources", { token: admin })).status).toBe(200);
}

describe("prototype pollution through a viewer's mapping preview (finding 1)", () => {
  const preview = (fields: unknown[]) =>
    call("POST", `/api/v1/sources/${sourceId}/preview`, { token: viewer, body: { entity: "customers", mappings: [{ source: { table: "customers" }, target: { context_type: "c" }, fields }] } });
  const id = { source: "id", target: "context_id" };

  it.each([
    ["data.__proto__.ECM_API_TOKEN", "mappings[0].fields[1].target"],
    ["data.constructor.prototype.ECM_API_TOKEN", "mappings[0].fields[1].target"],
    ["data.prototype", "mappings[0].fields[1].target"],
  ])("refuses target %s at its field path, and nothing is polluted", async (target, path) => {
    const r = await preview([id, { target, transform: { name: "constant", value: POLLUTED } }]);
    expect(r.status).toBe(400);
    expect(r.body.error.issues.map((i: { path: string }) => i.path)).toContain(path);
    await expectNotPolluted();
  });

  it("refuses a __proto__ key in a transform's arguments and at the top of the body", async () => {
    const inArgs = await call("POST", `/api/v1/sources/${sourceId}/preview`, {
      token: viewer,
      raw: `{"entity":"customers","mappings":[{"source":{"table":"customers"},"target":{"context_type":"c"},"fields":[{"source":"id","target":"context_id"},{"target":"data.x","transform":{"name":"constant","value":1,"__proto__":{"ECM_API_TOKEN":"${POLLUTED}"}}}]}]}`,
    });
    expect(inArgs.status).toBe(400);
    expect(inArgs.body.error.message).toContain("mappings[0].fields[1].transform.__proto__");
    const atTop = await call("POST", `/api/v1/sources/${sourceId}/preview`, { token: viewer, raw: `{"entity":"customers","__proto__":{"ECM_API_TOKEN":"${POLLUTED}"}}` });
    expect(atTop.status).toBe(400);
    const trpc = await call("POST", `/api/trpc/mappings.preview`, { token: viewer, raw: `{"json":{"id":"${sourceId}","entity":"customers","constructor":{"prototype":{"ECM_API_TOKEN":"${POLLUTED}"}}}}` });
    expect(trpc.status).toBe(400);
    await expectNotPolluted();
  });
});

describe("cross-site requests with an admin's session cookie (finding 3)", () => {
  let cookie: string;
  const otherOrigin = () => `http://localhost:${Number(new URL(url).port) + 1}`;
  beforeAll(async () => {
    const res = await fetch(`${url}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: new URL(url).origin.replace("127.0.0.1", "localhost") },
      body: JSON.stringify(ADMIN),
    });
    expect(res.status).toBe(200);
    cookie = res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  });
  const userCount = () => withDb(async (c) => Number((await c.query(`SELECT count(*) FROM "user"`)).rows[0].count));
  const newAdmin = () => ({ email: `csrf-${crypto.randomBytes(4).toString("hex")}@evil.example`, name: "x", password: "attacker-password", role: "admin" });

  it("refuses a text/plain form post and a JSON post from another origin; nothing is created", async () => {
    const before = await userCount();
    const plain = await call("POST", "/api/v1/users", { raw: JSON.stringify(newAdmin()), headers: { "content-type": "text/plain", cookie, origin: otherOrigin() } });
    expect(plain.status).toBe(415);
    const foreign = await call("POST", "/api/v1/users", { body: newAdmin(), headers: { cookie, origin: otherOrigin() } });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.message).toMatch(/Bearer/);
    const noOrigin = await call("POST", "/api/v1/users", { body: newAdmin(), headers: { cookie } });
    expect(noOrigin.status).toBe(403);
    const trpc = await call("POST", "/api/trpc/users.create", { raw: JSON.stringify({ json: newAdmin() }), headers: { "content-type": "text/plain", cookie, origin: otherOrigin() } });
    expect(trpc.status).toBe(415);
    expect(await userCount()).toBe(before);
  });

  it("accepts the same request from the console's own origin (the cookie itself still works)", async () => {
    const ok = await call("POST", "/api/v1/users", { body: newAdmin(), headers: { cookie, origin: new URL(url).origin.replace("127.0.0.1", "localhost") } });
    expect(ok.status).toBe(201);
  });
});

/** A raw request that announces `declared` bytes (or streams them chunked) and sends `send` of them. */
function rawPost(path: string, opts: { declared?: number; send: number; token?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(opts.declared !== undefined ? { "content-length": String(opts.declared) } : {}),
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      },
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode!);
      req.destroy();
    });
    req.on("error", (e) => (/EPIPE|ECONNRESET/.test(String(e)) ? undefined : reject(e)));
    const chunk = Buffer.alloc(64 * 1024, "a");
    let sent = 0;
    const pump = () => {
      while (sent < opts.send) {
        sent += chunk.length;
        if (!req.write(chunk)) return req.once("drain", pump);
      }
      if (opts.declared === undefined) req.end();
    };
    pump();
  });
}

describe("request bodies (finding 4)", () => {
  it("answers 413 to a 400 MB body as soon as it is announced, without reading it", async () => {
    expect(await rawPost("/api/v1/sources", { declared: 400 * 1024 * 1024, send: 64 * 1024 })).toBe(413);
  });
  it("does not read an anonymous body at all, and bounds a signed-in chunked one", async () => {
    expect(await rawPost("/api/v1/sources", { send: 3 * 1024 * 1024 })).toBe(401);
    expect(await rawPost("/api/v1/sources", { send: 3 * 1024 * 1024, token: admin })).toBe(413);
    expect(await rawPost("/api/trpc/sources.create", { send: 3 * 1024 * 1024, token: admin })).toBe(413);
    expect((await call("GET", "/api/v1/health")).status).toBe(200);
  });
});

describe("the sign-in limit and client addresses (finding 5)", () => {
  it("cannot be dodged by rotating X-Forwarded-For: the socket's address is the client", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${url}/api/auth/sign-in/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: new URL(url).origin.replace("127.0.0.1", "localhost"), "x-forwarded-for": `198.51.100.${i + 1}` },
        body: JSON.stringify({ email: "nobody@ecm.local", password: "wrong-password-x" }),
      });
      statuses.push(res.status);
    }
    // ECM_LOGIN_RATE_LIMIT is 3 a minute (the admin's sign-in above counted too): whatever the
    // header says, the later attempts are refused.
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(3);
    expect(statuses.slice(3)).toEqual([429, 429]);
  });
});

describe("/api/v1/health (finding 10)", () => {
  it("tells a stranger only the status, and a signed-in caller which dependency is how", async () => {
    const anonymous = await call("GET", "/api/v1/health");
    expect(anonymous.body).toEqual({ status: "ok" });
    const signedIn = await call("GET", "/api/v1/health", { token: viewer });
    expect(signedIn.body).toMatchObject({ status: "ok", checks: { web: "ok", database: "ok", queue: "ok" } });
  });
});
