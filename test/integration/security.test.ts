// Regression tests for the security review's findings that need the product's services but not a
// web process (those are in security-web.test.ts): each failed on the code before the fix.
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "../../server/api/root.ts";
import { createContextInner } from "../../server/api/trpc.ts";
import { auth } from "../../server/auth/auth.ts";
import { principalFromHeaders, principalFromToken } from "../../server/auth/principal.ts";
import { guardedAuth } from "../../server/auth/sign-in-guard.ts";
import { createToken } from "../../server/auth/tokens.ts";
import { createUser, ensureFirstAdmin, setDisabled, setRole } from "../../server/auth/users.ts";
import { sourceHealth, withConnector } from "../../server/sources/connectivity.ts";
import { createSource } from "../../server/sources/service.ts";
import { reloadEnv } from "../../server/env.ts";
import { productHealth } from "../../server/health.ts";
import { privatePasswordFile } from "../../scripts/lib/embedded-postgres.ts";
import { ensureRedis } from "../../scripts/lib/redis-server.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { api } from "../support/http.ts";
import { freePort } from "../support/product.ts";
import { createSourceDatabase } from "../support/source-db.ts";

const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
const editor = createCaller(createContextInner({ principal: { kind: "token", id: "e", name: "editor", role: "editor" } }));

/** A server that speaks just enough of PostgreSQL's protocol to ask for a cleartext password. */
/**
 * An attacker in the server's place: refuses TLS and asks for the password, in clear (method 3)
 * or as MD5 (method 5), recording whatever password message it receives.
 */
async function passwordCatcher(opts: { host?: string; method?: 3 | 5 | "scram-then-clear" } = {}) {
  const method = opts.method ?? 3;
  const received: string[] = [];
  let connections = 0;
  const cleartextRequest = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]);
  const server = net.createServer((socket) => {
    connections++;
    let buf = Buffer.alloc(0);
    let started = false;
    let asked = 0;
    socket.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (!started) {
          if (buf.length < 8) return;
          const len = buf.readInt32BE(0);
          if (buf.length < len) return;
          const code = buf.readInt32BE(4);
          buf = buf.subarray(len);
          if (code === 80877103) socket.write("N"); // no TLS
          else {
            started = true;
            if (method === 3) socket.write(cleartextRequest);
            else if (method === 5) socket.write(Buffer.from([0x52, 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4])); // MD5, 4-byte salt
            else {
              // AuthenticationSASL offering SCRAM-SHA-256: the client answers with its first SCRAM message.
              const mech = Buffer.from("SCRAM-SHA-256\0\0");
              const head = Buffer.alloc(9);
              head.write("R", 0);
              head.writeInt32BE(8 + mech.length, 1);
              head.writeInt32BE(10, 5);
              socket.write(Buffer.concat([head, mech]));
            }
          }
          continue;
        }
        if (buf.length < 5) return;
        const len = buf.readInt32BE(1);
        if (buf.length < len + 1) return;
        const type = buf[0];
        const body = buf.subarray(5, len + 1);
        buf = buf.subarray(len + 1);
        if (type === 0x70) received.push(body.toString("latin1").replace(/\0$/, ""));
        // After the SCRAM opening, ask for the password in clear instead.
        if (method === "scram-then-clear" && type === 0x70 && asked++ === 0) {
          socket.write(cleartextRequest);
          continue;
        }
        socket.destroy();
        return;
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, opts.host ?? "127.0.0.1", () => r()));
  return { port: (server.address() as net.AddressInfo).port, received, connections: () => connections, close: () => server.close() };
}

beforeAll(async () => {
  await resetMetadata();
});

describe("a stored password is bound to the connection it was typed for (finding 2)", () => {
  it("is never sent to another port or host: not by an edit, a draft test, or a config changed behind the service's back", async () => {
    const src = await createSourceDatabase("ecm_sec_binding", "CREATE TABLE t (id int PRIMARY KEY)");
    const password = process.env.ECM_SOURCE_TEST_PASSWORD!;
    const typed = { ...src.config, authentication: { type: "credentials" as const, username: src.config.authentication.username, password } };
    const source = await editor.sources.create({ name: "binding", config: typed });
    expect((await sourceHealth(source.id)).status).not.toBe("unhealthy"); // the typed password works where it was typed
    const catcher = await passwordCatcher();
    const moved = { ...source.config, connection: { ...source.config.connection, port: catcher.port } };

    // An editor's PATCH of the port keeping the stored secret: refused, asking for the password.
    const patch = await editor.sources.update({ id: source.id, config: moved }).catch((e) => e);
    expect(patch.code).toBe("BAD_REQUEST");
    expect(patch.cause.issues).toEqual([{ path: "config.authentication.password", message: expect.stringContaining("connection changed (port)") }]);
    expect((await editor.sources.get({ id: source.id })).config.connection.port).toBe(src.config.connection.port);

    // A draft test naming the secret with the other port, and the stored config changed by SQL.
    const draft = await editor.sources.testConnection({ config: moved });
    expect(draft.checks[0]).toMatchObject({ name: "authenticated", status: "fail", message: expect.stringContaining("typed for another connection (port differ)") });
    await withDb((c) => c.query(`UPDATE sources SET config = jsonb_set(config, '{connection,port}', to_jsonb($2::int)) WHERE id = $1`, [source.id, catcher.port]));
    const health = await sourceHealth(source.id);
    expect(health.checks[0]).toMatchObject({ name: "authenticated", status: "fail" });
    expect(catcher.received).toEqual([]);
    expect(catcher.connections()).toBe(0);

    // Typing the password again for the new connection is how it moves.
    await withDb((c) => c.query(`UPDATE sources SET config = jsonb_set(config, '{connection,port}', to_jsonb($2::int)) WHERE id = $1`, [source.id, src.config.connection.port]));
    const retyped = await editor.sources.update({ id: source.id, config: { ...moved, authentication: { type: "credentials", username: typed.authentication.username, password: "typed-for-the-catcher" } } });
    await sourceHealth(retyped.id);
    expect(catcher.received).toEqual(["typed-for-the-catcher"]);
    const secrets = await withDb(async (c) => (await c.query("SELECT binding FROM secrets")).rows.map((r) => r.binding.port));
    expect(secrets).toEqual([catcher.port]); // the old secret went with the old connection
    catcher.close();
  });
});

describe("control characters in a config (finding 8)", () => {
  it("answers 400 at the field's path for a NUL in database and a line break in username, saving nothing", async () => {
    const src = await createSourceDatabase("ecm_sec_ctrl");
    const nul = await api("POST", "/sources", { token: process.env.ECM_API_TOKEN, body: { name: "nul", config: { ...src.config, connection: { ...src.config.connection, database: "ecm\u0000x" } } } });
    expect(nul.status).toBe(400);
    expect(nul.body.error.issues[0].path).toBe("config.connection.database");
    const newline = await editor.sources.create({ name: "nl", config: { ...src.config, authentication: { ...src.config.authentication, username: "u\noptions=-c" } } }).catch((e) => e);
    expect(newline.code).toBe("BAD_REQUEST");
    expect(newline.cause.issues[0].path).toEqual(["config", "authentication", "username"]);
    expect(await withDb(async (c) => (await c.query("SELECT count(*)::int AS n FROM sources WHERE name IN ('nul', 'nl')")).rows[0].n)).toBe(0);
  });
});

describe("mapping size (finding 6)", () => {
  it("refuses a 40,000-field mapping at its path instead of validating it", async () => {
    const src = await createSourceDatabase("ecm_sec_big", "CREATE TABLE t (id int PRIMARY KEY)");
    const source = await createSource({ name: "big", config: src.config });
    const viewer = (await createToken({ name: "v", role: "viewer" }, system)).token;
    const fields = [{ source: "id", target: "context_id" }, ...Array.from({ length: 40_000 }, (_, i) => ({ source: "id", target: `data.f${i}` }))];
    const mappings = [{ source: { table: "t" }, target: { context_type: "t" }, fields }];
    // Over HTTP it is larger than the body limit; through tRPC's caller it meets the field limit.
    const r = await api("POST", `/sources/${source.id}/preview`, { token: viewer, body: { entity: "t", mappings } });
    expect(r.status).toBe(413);
    const viewerCaller = createCaller(createContextInner({ principal: { kind: "token", id: "v", name: "v", role: "viewer" } }));
    const direct = await viewerCaller.mappings.preview({ id: source.id, entity: "t", mappings }).catch((e) => e);
    expect(direct.code).toBe("BAD_REQUEST");
    expect(direct.message).toMatch(/^Refused input: mappings\[0\]\.fields\[\d+\]: more than 100000 keys/);
    const r2 = await api("POST", `/sources/${source.id}/preview`, { token: viewer, body: { entity: "t", mappings: [{ ...mappings[0], fields: fields.slice(0, 2_000) }] } });
    expect(r2.status).toBe(400);
    expect(r2.body.error.issues).toContainEqual({ path: "mappings[0].fields", message: "at most 500 fields per mapping" });
  });
});

describe("API tokens and their creator (finding 10)", () => {
  it("stop when the creator is disabled and never exceed the creator's current role", async () => {
    await createUser({ email: "other-admin@ecm.local", name: "other", password: "other-admin-password", role: "admin" }); // so the maker may be demoted
    const user = await createUser({ email: "token-maker@ecm.local", name: "maker", password: "token-maker-password", role: "admin" });
    const { token } = await createToken({ name: "maker's", role: "admin" }, { kind: "user", id: user.id, name: user.email, role: "admin" });
    expect((await principalFromToken(token))?.role).toBe("admin");
    await setRole(user.id, "viewer");
    expect((await principalFromToken(token))?.role).toBe("viewer");
    await setDisabled(user.id, true);
    expect(await principalFromToken(token)).toBeNull();
  });
});

describe("tokens made with a token (second pass, finding 1)", () => {
  it("belong to the user behind the token that made them: shown with that owner, capped by their role, stopped with them", async () => {
    const user = await createUser({ email: "minter@ecm.local", name: "minter", password: "minter-password-123", role: "admin" });
    const first = await createToken({ name: "minter's", role: "admin" }, { kind: "user", id: user.id, name: user.email, role: "admin" });
    // The first token makes a second one through the public API.
    const made = await api("POST", "/tokens", { token: first.token, body: { name: "minted by a token", role: "admin" } });
    expect(made.status, made.text).toBe(201);
    expect(made.body.api_token.owner).toBe("minter@ecm.local");
    const listed = (await api("GET", "/tokens", { token: first.token })).body.tokens.find((t: { id: string }) => t.id === made.body.api_token.id);
    expect(listed.owner).toBe("minter@ecm.local");
    expect((await principalFromToken(made.body.token))).toMatchObject({ role: "admin", owner: { kind: "user", id: user.id } });
    await setRole(user.id, "editor");
    expect((await principalFromToken(made.body.token))?.role).toBe("editor");
    await setDisabled(user.id, true);
    expect(await principalFromToken(made.body.token)).toBeNull();
    expect((await api("GET", "/sources", { token: made.body.token })).status).toBe(401);
  });

  it("made with ECM_API_TOKEN live as long as it keeps its value; tokens without any owner act as viewers and cannot mint", async () => {
    const made = await api("POST", "/tokens", { token: process.env.ECM_API_TOKEN!, body: { name: "automation", role: "editor" } });
    expect(made.status, made.text).toBe(201);
    expect(made.body.api_token.owner).toBe("ECM_API_TOKEN");
    expect((await principalFromToken(made.body.token))?.role).toBe("editor");
    const before = process.env.ECM_API_TOKEN;
    process.env.ECM_API_TOKEN = `${before}-rotated`;
    reloadEnv();
    try {
      expect(await principalFromToken(made.body.token)).toBeNull();
    } finally {
      process.env.ECM_API_TOKEN = before;
      reloadEnv();
    }
    expect((await principalFromToken(made.body.token))?.role).toBe("editor");
    // A token from before owners were recorded: shown without one, a viewer, and it cannot mint.
    const legacy = await createToken({ name: "legacy", role: "admin" }, { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" });
    await withDb((c) => c.query("UPDATE api_tokens SET owner_env_hash = NULL, created_by_id = NULL WHERE id = $1", [legacy.api_token.id]));
    expect(await principalFromToken(legacy.token)).toMatchObject({ role: "viewer", owner: null });
    const listed = (await api("GET", "/tokens", { token: process.env.ECM_API_TOKEN! })).body.tokens.find((t: { id: string }) => t.id === legacy.api_token.id);
    expect(listed.owner).toBeNull();
    await expect(createToken({ name: "child", role: "viewer" }, (await principalFromToken(legacy.token))!)).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});

describe("stored passwords and TLS (second pass, finding 3)", () => {
  /** This machine's first address that is not loopback: what a source elsewhere looks like. */
  const outward = () => {
    const found = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === "IPv4" && !i.internal);
    if (!found) throw new Error("this test needs a non-loopback IPv4 address on this machine");
    return found.address;
  };

  for (const method of [3, 5, "scram-then-clear"] as const) {
    it(`never sends a stored password (${method === 3 ? "asked in clear" : method === 5 ? "asked as MD5" : "asked for SCRAM, then in clear"}) to a server that refused TLS on a non-loopback address`, async () => {
      const host = outward();
      const catcher = await passwordCatcher({ host, method });
      try {
        const admin = createCaller(createContextInner({ principal: { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" } }));
        const config = { connector_type: "postgresql" as const, connection: { host, port: catcher.port, database: "shop", ssl_mode: "prefer" as const }, authentication: { type: "credentials" as const, username: "reader", password: "the-stored-password" }, options: {} };
        const source = await admin.sources.create({ name: `tls-${method}-${Date.now()}`, config: config as never });
        const health = await sourceHealth(source.id);
        expect(health.checks[0]).toMatchObject({ name: "authenticated", status: "fail", message: expect.stringMatching(/asked for the password .* refused, nothing was sent/), hint: expect.stringMatching(/verify-full/) });
        expect(catcher.connections()).toBeGreaterThan(0);
        // At most the SCRAM opening (a nonce, never the password) reached it.
        expect(catcher.received.filter((r) => r.includes("the-stored-password"))).toEqual([]);
        expect(catcher.received).toHaveLength(method === "scram-then-clear" ? 1 : 0);
      } finally {
        catcher.close();
      }
    });
  }

  it("still answers a password request on this machine (loopback), where nothing crosses a network", async () => {
    const catcher = await passwordCatcher({ host: "127.0.0.1", method: 3 });
    try {
      const admin = createCaller(createContextInner({ principal: { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" } }));
      const config = { connector_type: "postgresql" as const, connection: { host: "127.0.0.1", port: catcher.port, database: "shop", ssl_mode: "disable" as const }, authentication: { type: "credentials" as const, username: "reader", password: "local-password" }, options: {} };
      const source = await admin.sources.create({ name: `tls-local-${Date.now()}`, config: config as never });
      await sourceHealth(source.id);
      expect(catcher.received).toEqual(["local-password"]);
    } finally {
      catcher.close();
    }
  });
});

describe("anonymous and draft calls (second pass, finding 7)", () => {
  it("answers concurrent health checks from one check a second, not one query each", async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => productHealth()));
    expect(answers[0]!.status).toBe("ok");
    expect(new Set(answers).size).toBe(1);
  });

  it("limits draft connection tests per caller (429 with Retry-After), leaving other callers alone", async () => {
    const limit = Number(process.env.ECM_DRAFT_TEST_LIMIT ?? 20);
    const prober = createCaller(createContextInner({ principal: { kind: "token", id: `prober-${Date.now()}`, name: "prober", role: "editor" } }));
    const other = createCaller(createContextInner({ principal: { kind: "token", id: `other-${Date.now()}`, name: "other", role: "editor" } }));
    // A closed port on loopback: each test connects and fails at once.
    const config = { connector_type: "postgresql" as const, connection: { host: "127.0.0.1", port: 1, database: "probe", ssl_mode: "disable" as const }, authentication: { type: "credentials" as const, username: "probe", password: "guess" }, options: {} };
    for (let i = 0; i < limit; i++) expect((await prober.sources.testConnection({ config: config as never })).status).toBe("unhealthy");
    const refused = await prober.sources.testConnection({ config: config as never }).catch((e) => e);
    expect(refused).toMatchObject({ code: "TOO_MANY_REQUESTS", message: expect.stringMatching(/draft connection tests a minute; try again in \d+ s/) });
    expect(((refused as { cause?: { retryAfter?: number } }).cause?.retryAfter ?? 0) > 0).toBe(true);
    expect((await other.sources.testConnection({ config: config as never })).status).toBe("unhealthy");
  });
});

describe("local hardening (finding 7)", () => {
  it("writes initdb's password file 0600 inside a 0700 directory", () => {
    const pw = privatePasswordFile("superuser-password", {});
    expect(fs.statSync(pw.file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(pw.dir).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(pw.file, "utf8")).toBe("superuser-password\n");
    pw.remove();
    expect(fs.existsSync(pw.dir)).toBe(false);
  });

  it("starts Redis with a password that only its URL carries (not on the command line)", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ecm-redis-"));
    const port = await freePort();
    const password = crypto.randomBytes(12).toString("hex");
    // As on a fresh machine with no Redis on 6379: one is started.
    const handle = await ensureRedis({ dataDir, port, password, log: () => {}, useLocal: false });
    try {
      expect(handle.started).toBe(true);
      const anonymous = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
        socket.once("data", (d) => (resolve(d.toString()), socket.destroy()));
        socket.once("error", reject);
      });
      expect(anonymous).toMatch(/^-NOAUTH/);
      const authed = new Redis(handle.url, { maxRetriesPerRequest: 0 });
      expect(await authed.ping()).toBe("PONG");
      const pid = /process_id:(\d+)/.exec(String(await authed.info("server")))![1];
      authed.disconnect();
      expect(fs.statSync(path.join(dataDir, "redis", "redis.conf")).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain(password);
    } finally {
      await handle.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("makes a generated first-admin password good for nothing but choosing a new one", async () => {
    await resetMetadata();
    const first = await ensureFirstAdmin({ email: "first@ecm.local" });
    const signIn = await auth().handler(
      new Request("http://localhost:3999/api/auth/sign-in/email", {
        method: "POST",
        headers: { "content-type": "application/json", origin: "http://localhost:3999", "x-forwarded-for": "203.0.113.50" },
        body: JSON.stringify({ email: first!.email, password: first!.password }),
      }),
    );
    expect(signIn.status).toBe(200);
    const headers = new Headers({ cookie: signIn.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ") });
    const principal = (await principalFromHeaders(headers))!;
    expect(principal.mustChangePassword).toBe(true);
    const caller = createCaller(createContextInner({ principal, headers }));
    await expect(caller.sources.list({ limit: 10 })).rejects.toMatchObject({ code: "FORBIDDEN", message: expect.stringContaining("generated password") });
    expect((await caller.me.get()).must_change_password).toBe(true);
    await expect(caller.me.changePassword({ current_password: "not-it-at-all", new_password: "my-own-password-1" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await caller.me.changePassword({ current_password: first!.password!, new_password: "my-own-password-1" });
    const after = (await principalFromHeaders(headers))!;
    expect(after.mustChangePassword).toBeUndefined();
    expect((await createCaller(createContextInner({ principal: after, headers })).sources.list({ limit: 10 })).sources).toEqual([]);
  });
});

describe("the per-account sign-in limit (finding 5)", () => {
  it("refuses an account after ECM_LOGIN_ACCOUNT_LIMIT failures from any number of addresses, even with its password", async () => {
    const email = `limited-${crypto.randomBytes(4).toString("hex")}@ecm.local`;
    await createUser({ email, name: "l", password: "the-right-password", role: "viewer" });
    await createUser({ email: `other-${email}`, name: "o", password: "the-right-password", role: "viewer" });
    const attempt = (who: string, password: string, i: number) =>
      guardedAuth(
        new Request("http://localhost:3999/api/auth/sign-in/email", {
          method: "POST",
          headers: { "content-type": "application/json", origin: "http://localhost:3999", "x-forwarded-for": `192.0.2.${i}` },
          body: JSON.stringify({ email: who, password }),
        }),
        (r: Request) => auth().handler(r),
      );
    for (let i = 1; i <= 10; i++) expect((await attempt(email, `wrong-${i}-password`, i)).status).toBe(401);
    const locked = await attempt(email, "the-right-password", 11);
    expect(locked.status).toBe(429);
    expect(await locked.json()).toMatchObject({ message: expect.stringContaining("too many failed sign-ins for this account") });
    expect((await attempt(`other-${email}`, "the-right-password", 12)).status).toBe(200);
  });
});

describe("better-auth's own routes (review of finding 5 and 7)", () => {
  const authCall = (path: string, init: { body?: string | ReadableStream; contentType?: string; headers?: Record<string, string> } = {}) =>
    guardedAuth(
      new Request(`http://localhost:3999/api/auth${path}`, {
        method: "POST",
        headers: { "content-type": init.contentType ?? "application/json", origin: "http://localhost:3999", "x-forwarded-for": "192.0.2.200", ...init.headers },
        body: init.body ?? "{}",
        ...(init.body instanceof ReadableStream ? { duplex: "half" } : {}),
      } as RequestInit),
      (r: Request) => auth().handler(r),
    );

  it("serve only sign-in, sign-out and the session: the admin API and password changes bypassing the console answer 404", async () => {
    for (const path of ["/admin/set-role", "/admin/create-user", "/admin/impersonate-user", "/change-password", "/update-user", "/sign-up/email"]) {
      expect((await authCall(path)).status, path).toBe(404);
    }
  });

  it("count a form-encoded sign-in like a JSON one: it is refused (415), never forwarded uncounted", async () => {
    const r = await authCall("/sign-in/email", { contentType: "application/x-www-form-urlencoded", body: "email=first%40ecm.local&password=guess-guess-guess" });
    expect(r.status).toBe(415);
  });

  it("read at most 16 KiB of an anonymous body, streamed or not", async () => {
    const chunk = new Uint8Array(64 * 1024).fill(97);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 300 * 1024 * 1024) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    expect((await authCall("/sign-in/email", { body: stream })).status).toBe(413);
    expect(sent).toBeLessThan(1024 * 1024); // stopped reading long before the 300 MiB
  });
});

describe("operator-provided secrets (review of finding 2)", () => {
  it("go only where an admin pointed them: an editor can neither save nor test an env:// reference against another host", async () => {
    const src = await createSourceDatabase("ecm_sec_env", "CREATE TABLE t (id int PRIMARY KEY)");
    const admin = createCaller(createContextInner({ principal: { kind: "token", id: "a", name: "admin", role: "admin" } }));
    const source = await admin.sources.create({ name: "env-ref", config: src.config });
    const catcher = await passwordCatcher();
    const elsewhere = { ...src.config, connection: { ...src.config.connection, port: catcher.port } };
    await expect(editor.sources.create({ name: "env-elsewhere", config: elsewhere })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(editor.sources.update({ id: source.id, config: elsewhere })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(editor.sources.testConnection({ config: elsewhere })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(catcher.connections()).toBe(0);
    // Where an admin put it, an editor may test it and edit other fields.
    expect((await editor.sources.testConnection({ config: src.config })).status).not.toBe("unhealthy");
    await editor.sources.update({ id: source.id, name: "env-ref-renamed", config: { ...src.config, options: { ...src.config.options, batch_size: 500 } } });
    catcher.close();
  });
});

describe("a source column named __proto__", () => {
  it("is read as the row's own value; the row's prototype is untouched", async () => {
    const src = await createSourceDatabase("ecm_sec_proto_col", `CREATE TABLE t (id int PRIMARY KEY, "__proto__" text, "constructor" text); INSERT INTO t VALUES (1, 'p', 'c');`);
    const source = await createSource({ name: "proto-col", config: src.config });
    const rows = await withConnector(source.id, async (connector) => {
      const out: Record<string, unknown>[] = [];
      for await (const chunk of connector.readSnapshotChunks!("t", { batch_size: 10 })) out.push(...chunk.records);
      return out;
    });
    const record = rows[0]!;
    expect(Object.getOwnPropertyNames(record).sort()).toEqual(["__proto__", "constructor", "id"]);
    expect([Object.getOwnPropertyDescriptor(record, "__proto__")?.value, Object.getOwnPropertyDescriptor(record, "constructor")?.value]).toEqual(["p", "c"]);
    // Through the API the row still answers (zod's output never copies a __proto__ key).
    expect((await editor.sources.sample({ id: source.id, name: "t", limit: 5 })).contexts[0]!.data).toMatchObject({ id: 1, constructor: "c" });
    expect(({} as Record<string, unknown>).p).toBeUndefined();
  });
});
