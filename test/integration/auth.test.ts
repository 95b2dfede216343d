// Console sign-in through better-auth's real HTTP handler: cookies, roles, rate limit, users.
import { beforeAll, describe, expect, it } from "vitest";
import { auth } from "../../server/auth/auth.ts";
import { principalFromHeaders } from "../../server/auth/principal.ts";
import { ensureFirstAdmin, setRole } from "../../server/auth/users.ts";
import { createCaller } from "../../server/api/root.ts";
import { createContextInner } from "../../server/api/trpc.ts";
import { api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";

const ORIGIN = "http://localhost:3999";

function signIn(email: string, password: string, ip = "203.0.113.7") {
  return auth().handler(
    new Request(`${ORIGIN}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: ORIGIN, "x-forwarded-for": ip },
      body: JSON.stringify({ email, password }),
    }),
  );
}

const sessionCookie = (res: Response) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");

let admin: { email: string; password: string | null };

beforeAll(async () => {
  await resetMetadata();
  admin = (await ensureFirstAdmin({ email: "Root@Example.com", password: "first-admin-password" }))!;
});

describe("first start", () => {
  it("creates the first admin once, with the given credentials", async () => {
    expect(admin).toEqual({ email: "root@example.com", password: "first-admin-password" });
    expect(await ensureFirstAdmin({})).toBeNull(); // a second start creates nobody
    const users = await withDb((c) => c.query(`SELECT email, role FROM "user"`));
    expect(users.rows).toEqual([{ email: "root@example.com", role: "admin" }]);
  });
});

describe("signing in", () => {
  it("sets an HttpOnly, SameSite session cookie that resolves to the user's role", async () => {
    const res = await signIn("root@example.com", "first-admin-password");
    expect(res.status).toBe(200);
    const raw = res.headers.getSetCookie().join("\n");
    expect(raw).toMatch(/HttpOnly/i);
    expect(raw).toMatch(/SameSite=Lax/i);
    const principal = await principalFromHeaders(new Headers({ cookie: sessionCookie(res) }));
    expect(principal).toMatchObject({ kind: "user", name: "root@example.com", role: "admin" });
  });

  it("refuses a wrong password, and public sign-up is closed", async () => {
    expect((await signIn("root@example.com", "wrong-password-123", "203.0.113.8")).status).toBe(401);
    const signUp = await auth().handler(
      new Request(`${ORIGIN}/api/auth/sign-up/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: ORIGIN },
        body: JSON.stringify({ email: "intruder@example.com", password: "intruder-password", name: "x" }),
      }),
    );
    expect(signUp.status).toBeGreaterThanOrEqual(400);
    expect(await withDb(async (c) => (await c.query(`SELECT count(*) FROM "user" WHERE email = 'intruder@example.com'`)).rows[0].count)).toBe("0");
  });

  it("rate-limits sign-in attempts per client address", async () => {
    const ip = "198.51.100.23";
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await signIn("root@example.com", "wrong-password-123", ip)).status);
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true); // ECM_LOGIN_RATE_LIMIT default 10/min
    expect(statuses.slice(10)).toEqual([429, 429]);
    // Another address is not affected.
    expect((await signIn("root@example.com", "first-admin-password", "198.51.100.24")).status).toBe(200);
  });
});

describe("users and roles", () => {
  const adminCaller = () => createCaller(createContextInner({ principal: { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" } }));

  it("lets an admin create a viewer, who can read but not create a source", async () => {
    await adminCaller().users.create({ email: "viewer@example.com", name: "Viewer", password: "viewer-password", role: "viewer" });
    const cookie = sessionCookie(await signIn("viewer@example.com", "viewer-password", "192.0.2.50"));
    const headers = new Headers({ cookie });
    const viewer = await principalFromHeaders(headers);
    expect(viewer?.role).toBe("viewer");
    const caller = createCaller(createContextInner({ principal: viewer }));
    await expect(caller.sources.list({ limit: 10 })).resolves.toBeDefined();
    await expect(
      caller.sources.create({
        name: "nope",
        config: { connector_type: "postgresql", connection: { host: "h", database: "d" }, authentication: { type: "credentials", username: "u" } },
      }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(caller.users.list()).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("rejects an invalid new user by field path", async () => {
    await expect(adminCaller().users.create({ email: "not-an-email", name: "x", password: "short", role: "viewer" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    const r = await api("POST", "/users", { token: process.env.ECM_API_TOKEN, body: { email: "bad", name: "x", password: "short" } });
    expect(r.status).toBe(400);
    expect(r.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual(["email", "password"]);
  });

  it("never demotes the last admin", async () => {
    const id = await withDb(async (c) => (await c.query(`SELECT id FROM "user" WHERE role = 'admin'`)).rows[0].id as string);
    await expect(setRole(id, "viewer")).rejects.toThrow(/last active admin/);
  });
});
