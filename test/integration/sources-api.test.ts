// The public sources API against the real metadata database and Redis: auth, roles, validation
// with field paths (nothing saved on error), and secrets that never come back out.
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { addLogSink } from "../../server/logger.ts";
import { adminToken, api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";

const SPEC_CONFIG = {
  connector_type: "postgresql",
  connection: { host: "127.0.0.1", port: 5432, database: "production", ssl_mode: "require" },
  authentication: { type: "credentials", username: "ecm_reader", password_secret: "vault://db/postgres/password" },
  options: { batch_size: 1000, change_tracking: "cdc" },
};
const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
let viewer: string;
let editor: string;

beforeAll(async () => {
  await resetMetadata();
  viewer = (await createToken({ name: "viewer", role: "viewer" }, system)).token;
  editor = (await createToken({ name: "editor", role: "editor" }, system)).token;
});
beforeEach(async () => {
  await withDb((c) => c.query("TRUNCATE sources, secrets CASCADE"));
});

const countSources = () => withDb(async (c) => Number((await c.query("SELECT count(*) FROM sources")).rows[0].count));

describe("authentication and roles on /api/v1", () => {
  it("answers 401 without credentials, with an unknown token, or a malformed header", async () => {
    expect((await api("GET", "/sources")).status).toBe(401);
    expect((await api("GET", "/sources", { token: "not-a-real-token-at-all" })).status).toBe(401);
    expect((await api("GET", "/sources", { headers: { authorization: "Basic abc" } })).status).toBe(401);
    const r = await api("POST", "/sources", { body: { name: "x", config: SPEC_CONFIG } });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe("UNAUTHORIZED");
    expect(await countSources()).toBe(0);
  });

  it("lets a viewer read but answers 403 to a viewer's writes", async () => {
    expect((await api("GET", "/sources", { token: viewer })).status).toBe(200);
    const r = await api("POST", "/sources", { token: viewer, body: { name: "x", config: SPEC_CONFIG } });
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: "FORBIDDEN", message: expect.stringMatching(/editor/) });
    expect(await countSources()).toBe(0);
  });

  it("keeps user and token administration to admins", async () => {
    expect((await api("GET", "/users", { token: editor })).status).toBe(403);
    expect((await api("POST", "/tokens", { token: editor, body: { name: "t", role: "admin" } })).status).toBe(403);
    expect((await api("GET", "/tokens", { token: adminToken() })).status).toBe(200);
  });

  it("stops accepting a token once it is revoked", async () => {
    const created = await api("POST", "/tokens", { token: adminToken(), body: { name: "short-lived", role: "viewer" } });
    expect(created.status).toBe(201);
    expect((await api("GET", "/sources", { token: created.body.token })).status).toBe(200);
    expect((await api("POST", `/tokens/${created.body.api_token.id}/revoke`, { token: adminToken() })).status).toBe(200);
    expect((await api("GET", "/sources", { token: created.body.token })).status).toBe(401);
    const stored = await withDb((c) => c.query("SELECT token_hash FROM api_tokens WHERE id = $1", [created.body.api_token.id]));
    expect(stored.rows[0].token_hash).not.toBe(created.body.token); // hashed at rest
  });
});

// The spec's example names a vault:// secret: pointing an operator-provided secret at a host is an
// admin's decision (docs/security.md), so these sources are created with an admin token.
describe("sources CRUD", () => {
  it("registers the spec's example config as written and returns it; an editor may not point its vault:// secret at a host", async () => {
    const byEditor = await api("POST", "/sources", { token: editor, body: { name: "production", config: SPEC_CONFIG } });
    expect(byEditor.status).toBe(403);
    expect(byEditor.body.error.issues[0].path).toBe("config.authentication.password_secret");
    const r = await api("POST", "/sources", { token: adminToken(), body: { name: "production", config: SPEC_CONFIG } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: "production", connector_type: "postgresql", config: SPEC_CONFIG, status: "idle" });
    const got = await api("GET", `/sources/${r.body.id}`, { token: viewer });
    expect(got.body).toEqual(r.body);
    expect((await api("GET", "/sources", { token: viewer })).body.sources.map((s: { id: string }) => s.id)).toEqual([r.body.id]);
  });

  it("reports every invalid field by path and saves nothing", async () => {
    const bad = {
      ...SPEC_CONFIG,
      connection: { host: "", port: 99999, database: "production", ssl_mode: "require", hots: "typo" },
      authentication: { ...SPEC_CONFIG.authentication, password_secret: "plain-text-password" },
    };
    const r = await api("POST", "/sources", { token: editor, body: { name: "bad", config: bad } });
    expect(r.status).toBe(400);
    expect(r.body.error.category).toBe("CONFIGURATION");
    expect(r.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      "config.authentication.password_secret",
      "config.connection.host",
      "config.connection.hots",
      "config.connection.port",
    ]);
    expect(await countSources()).toBe(0);
  });

  it("answers 400 for a body that is not JSON", async () => {
    const r = await api("POST", "/sources", { token: editor, rawBody: "{not json" });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/not valid JSON/);
  });

  it("refuses a duplicate name with 409 at the name field", async () => {
    await api("POST", "/sources", { token: adminToken(), body: { name: "dup", config: SPEC_CONFIG } });
    const r = await api("POST", "/sources", { token: adminToken(), body: { name: "dup", config: SPEC_CONFIG } });
    expect(r.status).toBe(409);
    expect(r.body.error.issues).toEqual([{ path: "name", message: expect.any(String) }]);
    expect(await countSources()).toBe(1);
  });

  it("renames and replaces config with PATCH, validating the same way", async () => {
    const { body: s } = await api("POST", "/sources", { token: adminToken(), body: { name: "a", config: SPEC_CONFIG } });
    const renamed = await api("PATCH", `/sources/${s.id}`, { token: editor, body: { name: "b" } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe("b");
    const invalid = await api("PATCH", `/sources/${s.id}`, { token: editor, body: { config: { ...SPEC_CONFIG, connection: { ...SPEC_CONFIG.connection, port: "x" } } } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.issues[0].path).toBe("config.connection.port");
    expect((await api("GET", `/sources/${s.id}`, { token: viewer })).body.config.connection.port).toBe(5432);
  });

  it("deletes with 204, then answers 404; a source whose slot cannot be removed is kept, with the SQL to run", async () => {
    const { body: s } = await api("POST", "/sources", { token: adminToken(), body: { name: "gone", config: SPEC_CONFIG } });
    // db.example.com does not resolve: the slot and publication cannot be dropped there.
    const kept = await api("DELETE", `/sources/${s.id}`, { token: editor });
    expect(kept.status).toBe(409);
    expect(kept.body.error.message).toContain(`pg_drop_replication_slot('ecm_slot_${s.id.replaceAll("-", "")}')`);
    expect(kept.body.error.message).toContain("drop_capture=false");
    expect((await api("GET", `/sources/${s.id}`, { token: viewer })).status).toBe(200);
    expect((await api("DELETE", `/sources/${s.id}?drop_slot=false`, { token: editor })).status).toBe(204);
    expect((await api("GET", `/sources/${s.id}`, { token: viewer })).status).toBe(404);
    expect((await api("DELETE", `/sources/${s.id}`, { token: editor })).status).toBe(404);
  });

  it("pages the list with limit and next_cursor", async () => {
    for (const name of ["p1", "p2", "p3"]) await api("POST", "/sources", { token: adminToken(), body: { name, config: SPEC_CONFIG } });
    const first = await api("GET", "/sources?limit=2", { token: viewer });
    expect(first.body.sources.map((s: { name: string }) => s.name)).toEqual(["p1", "p2"]);
    const second = await api("GET", `/sources?limit=2&cursor=${first.body.next_cursor}`, { token: viewer });
    expect(second.body.sources.map((s: { name: string }) => s.name)).toEqual(["p3"]);
    expect(second.body.next_cursor).toBeNull();
  });
});

describe("secrets never come back out", () => {
  const canary = `canary-${Math.random().toString(36).slice(2)}-pw`;
  let logLines: string[] = [];
  let removeSink: () => void;
  beforeAll(() => {
    removeSink = addLogSink((l) => logLines.push(l));
  });
  afterAll(() => removeSink());

  it("stores a typed password encrypted and shows only a secret:// reference, anywhere", async () => {
    logLines = [];
    const config = { ...SPEC_CONFIG, authentication: { type: "credentials", username: "u", password: canary } };
    const created = await api("POST", "/sources", { token: editor, body: { name: "canary", config } });
    expect(created.status).toBe(201);
    expect(created.body.config.authentication.password_secret).toMatch(/^secret:\/\/[0-9a-f-]{36}$/);
    expect(created.body.config.authentication).not.toHaveProperty("password");

    // Responses: create, get, list, update, an error that echoes input, the OpenAPI document.
    const responses = [
      created,
      await api("GET", `/sources/${created.body.id}`, { token: viewer }),
      await api("GET", "/sources", { token: viewer }),
      await api("PATCH", `/sources/${created.body.id}`, { token: editor, body: { name: "canary-2" } }),
      await api("POST", "/sources", { token: editor, body: { name: "", config: { ...config, connection: { host: "" } } } }),
      await api("GET", "/openapi.json", {}),
    ];
    for (const r of responses) expect(r.text).not.toContain(canary);

    // Log lines of everything above.
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join("\n")).not.toContain(canary);

    // The database: not in the source's config, not in plain text in the secrets table.
    const dump = await withDb(async (c) => {
      const sources = await c.query("SELECT config::text FROM sources");
      const secrets = await c.query("SELECT encode(ciphertext, 'escape') AS c FROM secrets");
      return JSON.stringify([sources.rows, secrets.rows]);
    });
    expect(dump).not.toContain(canary);

    // Job payloads and anything else in Redis.
    const redis = new Redis(process.env.REDIS_URL!);
    try {
      const keys = await redis.keys("*");
      for (const key of keys) {
        const type = await redis.type(key);
        const value =
          type === "string" ? await redis.get(key) : type === "hash" ? JSON.stringify(await redis.hgetall(key)) : type === "list" ? JSON.stringify(await redis.lrange(key, 0, -1)) : "";
        expect(value ?? "").not.toContain(canary);
      }
    } finally {
      redis.disconnect();
    }
  });

  it("keeps the stored secret when the config is re-sent with its reference, and deletes it with the source", async () => {
    const config = { ...SPEC_CONFIG, authentication: { type: "credentials", username: "u", password: canary } };
    const { body: s } = await api("POST", "/sources", { token: editor, body: { name: "keep", config } });
    const ref = s.config.authentication.password_secret;
    const same = await api("PATCH", `/sources/${s.id}`, { token: editor, body: { config: s.config } });
    expect(same.body.config.authentication.password_secret).toBe(ref);
    const forged = await api("PATCH", `/sources/${s.id}`, {
      token: editor,
      body: { config: { ...s.config, authentication: { ...s.config.authentication, password_secret: "secret://00000000-0000-4000-8000-000000000000" } } },
    });
    expect(forged.status).toBe(400);
    expect(forged.body.error.issues[0].path).toBe("config.authentication.password_secret");
    await api("DELETE", `/sources/${s.id}?drop_slot=false`, { token: editor });
    expect(await withDb(async (c) => (await c.query("SELECT count(*) FROM secrets")).rows[0].count)).toBe("0");
  });
});

describe("stored secrets belong to one source", () => {
  it("refuses another source's secret:// reference when creating, editing or testing a config", async () => {
    const typed = { ...SPEC_CONFIG, authentication: { type: "credentials", username: "u", password: "owner-a-password" } };
    const { body: a } = await api("POST", "/sources", { token: editor, body: { name: "owner-a", config: typed } });
    const { body: b } = await api("POST", "/sources", { token: editor, body: { name: "owner-b", config: typed } });
    const borrowed = { ...a.config, connection: { ...a.config.connection, host: "attacker.example.com" } };
    const expectRefused = (r: { status: number; body: any }) => {
      expect(r.status).toBe(400);
      expect(r.body.error.issues[0].path).toBe("config.authentication.password_secret");
    };
    // A copy of A's exported config as a new source, or on B: refused, nothing saved.
    expectRefused(await api("POST", "/sources", { token: editor, body: { name: "copy-of-a", config: borrowed } }));
    expectRefused(await api("PATCH", `/sources/${b.id}`, { token: editor, body: { config: borrowed } }));
    expect((await api("GET", `/sources/${b.id}`, { token: editor })).body.config.authentication.password_secret).toBe(b.config.authentication.password_secret);
    // Testing a draft that names A's secret with another host: the password is never decrypted
    // for it (it is bound to A's connection), so the test reports that instead of connecting.
    const { createCaller } = await import("../../server/api/root.ts");
    const { createContextInner } = await import("../../server/api/trpc.ts");
    const caller = createCaller(createContextInner({ principal: { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "editor" } }));
    const tested = await caller.sources.testConnection({ config: borrowed });
    expect(tested.checks).toEqual([expect.objectContaining({ name: "authenticated", status: "fail", message: expect.stringContaining("typed for another connection (host differ)") })]);
  });
});

describe("health and the OpenAPI document", () => {
  it("reports ok when the database and the queue answer, without auth", async () => {
    const r = await api("GET", "/health");
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("ok");
  });

  it("serves an OpenAPI 3.1 document that includes the sources endpoints", async () => {
    const r = await api("GET", "/openapi.json");
    expect(r.body.openapi).toBe("3.1.0");
    expect(Object.keys(r.body.paths)).toEqual(expect.arrayContaining(["/sources", "/sources/{id}", "/health"]));
  });
});
