// A hostile-input sweep generated from the routers and the OpenAPI document, not a hand-picked
// list: every tRPC procedure (through the same HTTP handler the console uses) and every /api/v1
// operation gets, at every object position of an input built from its own schema, each prototype
// key; at every string position, control characters; and oversized bodies, deeply nested bodies,
// and non-JSON bodies sent with a session cookie. Every call must get a 4xx with a message,
// nothing may be saved, and the process must stay healthy with Object.prototype untouched.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { appRouter, createCaller } from "../../server/api/root.ts";
import { createContextInner } from "../../server/api/trpc.ts";
import { auth } from "../../server/auth/auth.ts";
import { createToken } from "../../server/auth/tokens.ts";
import { createUser } from "../../server/auth/users.ts";
import { handleApiRequest } from "../../server/http/handler.ts";
import { openApiDocument } from "../../server/http/openapi.ts";
import { handleTrpcRequest } from "../../server/http/trpc-handler.ts";
import { resetMetadata, withDb } from "../support/db.ts";

const ORIGIN = "http://localhost:3999";
const PROTO_KEYS = ["__proto__", "constructor", "prototype"];
const CONTROL = ["nul\u0000x", "esc\u001b[2J", "del\u007f"];
const MARK = "__ecm_sweep_marker__";

type JsonSchema = { type?: string | string[]; properties?: Record<string, JsonSchema>; items?: JsonSchema; anyOf?: JsonSchema[]; oneOf?: JsonSchema[]; allOf?: JsonSchema[]; enum?: unknown[]; const?: unknown; additionalProperties?: unknown };

/** A value of the schema's shape with every optional property present (so every position exists). */
function skeleton(s: JsonSchema | undefined, depth = 0): unknown {
  if (!s || depth > 8) return {};
  if (s.const !== undefined) return s.const;
  if (s.enum?.length) return s.enum[0];
  const alt = s.anyOf ?? s.oneOf;
  if (alt?.length) return skeleton(alt.find((a) => a.type !== "null") ?? alt[0], depth);
  if (s.allOf?.length) return Object.assign({}, ...s.allOf.map((a) => skeleton(a, depth) as object));
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  switch (type) {
    case "object":
      return Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, skeleton(v, depth + 1)]));
    case "array":
      return [skeleton(s.items, depth + 1)];
    case "string":
      return "x";
    case "number":
    case "integer":
      return 1;
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      return s.properties ? skeleton({ ...s, type: "object" }, depth) : {};
  }
}

type Position = (string | number)[];
function positions(v: unknown, at: Position = []): { objects: Position[]; strings: Position[] } {
  const out = { objects: [] as Position[], strings: [] as Position[] };
  if (typeof v === "string") out.strings.push(at);
  else if (Array.isArray(v)) v.forEach((x, i) => merge(out, positions(x, [...at, i])));
  else if (v && typeof v === "object") {
    out.objects.push(at);
    for (const [k, x] of Object.entries(v)) merge(out, positions(x, [...at, k]));
  }
  return out;
}
const merge = (a: ReturnType<typeof positions>, b: ReturnType<typeof positions>) => (a.objects.push(...b.objects), a.strings.push(...b.strings));

function at(v: unknown, p: Position): any {
  return p.reduce((node: any, k) => node[k], v);
}

/** JSON text of `base` with a prototype key (holding a marker payload) added at the object `p`. */
function withKey(base: unknown, p: Position, key: string): string {
  const copy = structuredClone(base ?? {});
  const target = p.length ? at(copy, p) : copy;
  target[MARK] = { polluted: "yes", ECM_API_TOKEN: "swept-admin-token-0123456789" };
  return JSON.stringify(p.length || base !== undefined ? copy : target).replace(`"${MARK}"`, JSON.stringify(key));
}

function withString(base: unknown, p: Position, value: string): unknown {
  const copy = structuredClone(base);
  if (!p.length) return value;
  at(copy, p.slice(0, -1))[p[p.length - 1]!] = value;
  return copy;
}

type Outcome = { status: number; message: string };
const messageOf = (body: any): string =>
  [body?.error?.message ?? body?.error?.json?.message ?? body?.[0]?.error?.json?.message ?? body?.message ?? "", ...(body?.error?.issues ?? []).map((i: { message: string }) => i.message)].join(" | ");

async function send(handler: (r: Request) => Promise<Response>, url: string, init: RequestInit): Promise<Outcome> {
  const res = await handler(new Request(url, init));
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, message: messageOf(body) };
}

let adminToken: string;
let cookie: string;
const failures: string[] = [];
let calls = 0;
// What each attack must be refused with: the guard's own status and words, so a refusal that only
// happened because the generated input was invalid anyway (zod, a missing id) does not count.
const PROTO = { status: 400, says: "names an object's prototype" };
const CONTROL_CHARS = { status: 400, says: "only tab and line breaks are allowed in text" };
const TOO_LARGE = { status: 413, says: "ECM_MAX_BODY_BYTES" };
const TOO_DEEP = { status: 400, says: "nested deeper than" };
const NOT_JSON = { status: 415, says: "Content-Type: application/json" };
const CROSS_SITE = { status: 403, says: "console's origin" };
function expectRefused(name: string, o: Outcome, want: { status: number; says: string }) {
  calls++;
  if (o.status !== want.status || !o.message.includes(want.says)) failures.push(`${name}: ${o.status} ${JSON.stringify(o.message)}`);
}

// Every table of the product but those that sign-in and sessions touch by themselves.
const counts = () =>
  withDb(async (c) => {
    const { rows } = await c.query<{ t: string }>(
      "SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('_prisma_migrations', 'session', 'rate_limit', 'verification') ORDER BY 1",
    );
    const counts: string[] = [];
    for (const { t } of rows) counts.push(`${t}=${(await c.query(`SELECT count(*) FROM ${t}`)).rows[0].count}`); // one query at a time on one client
    return counts;
  });

type Procedure = { _def: { type: "query" | "mutation"; inputs: z.ZodType[] } };
const procedures = Object.entries((appRouter._def as unknown as { procedures: Record<string, Procedure> }).procedures);
const inputOf = (p: Procedure): unknown => {
  const input = p._def.inputs[0];
  return input ? skeleton(z.toJSONSchema(input, { io: "input", unrepresentable: "any" }) as JsonSchema) : undefined;
};

const trpc = (path: string, type: "query" | "mutation", jsonText: string, headers: Record<string, string> = { authorization: `Bearer ${adminToken}` }) =>
  type === "query"
    ? send(handleTrpcRequest, `${ORIGIN}/api/trpc/${path}?input=${encodeURIComponent(`{"json":${jsonText}}`)}`, { method: "GET", headers })
    : send(handleTrpcRequest, `${ORIGIN}/api/trpc/${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: `{"json":${jsonText}}` });

type Operation = { method: string; path: string; body?: unknown; query: string[] };
/** Query parameters that reach the procedure as text (numbers and booleans are converted first). */
const isText = (schema: JsonSchema | undefined) => schema?.type === "string" || !!schema?.anyOf?.some((a) => a.type === "string");
function operations(): Operation[] {
  const doc = openApiDocument() as { paths: Record<string, Record<string, { parameters?: { name: string; in: string; schema?: JsonSchema }[]; requestBody?: { content: { "application/json": { schema: JsonSchema } } } }>> };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      body: op.requestBody ? skeleton(op.requestBody.content["application/json"].schema) : undefined,
      query: (op.parameters ?? []).filter((p) => p.in === "query" && isText(p.schema)).map((p) => p.name),
    })),
  );
}
const rest = (op: Operation, init: { body?: string; query?: string; headers?: Record<string, string>; pathValue?: string }) =>
  send(handleApiRequest, `${ORIGIN}/api/v1${op.path.replace(/\{\w+\}/g, () => encodeURIComponent(init.pathValue ?? randomUUID()))}${init.query ?? ""}`, {
    method: op.method,
    headers: init.headers ?? { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
    ...(init.body !== undefined && op.method !== "GET" ? { body: init.body } : {}),
  });

let before: string[];
const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

beforeAll(async () => {
  await resetMetadata();
  adminToken = (await createToken({ name: "sweep", role: "admin" }, { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" })).token;
  await createUser({ email: "sweep@ecm.local", name: "sweep", password: "sweep-admin-password", role: "admin" });
  const res = await auth().handler(
    new Request(`${ORIGIN}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: ORIGIN, "x-forwarded-for": "203.0.113.77" },
      body: JSON.stringify({ email: "sweep@ecm.local", password: "sweep-admin-password" }),
    }),
  );
  cookie = res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  before = await counts();
});

describe("the hostile-input sweep", () => {
  it("covers every procedure and every operation", () => {
    expect(procedures.length).toBeGreaterThan(40);
    expect(operations().length).toBeGreaterThan(30);
  });

  it("refuses a prototype key at every object position of every tRPC procedure's input", async () => {
    for (const [path, p] of procedures) {
      const base = inputOf(p);
      const objects = positions(base ?? {}).objects;
      for (const [i, pos] of objects.entries()) {
        const key = PROTO_KEYS[i % PROTO_KEYS.length]!;
        expectRefused(`trpc ${path} ${key}@${pos.join(".") || "(top)"}`, await trpc(path, p._def.type, withKey(base, pos, key)), PROTO);
      }
    }
  });

  it("refuses control characters at every string position of every tRPC procedure's input", async () => {
    for (const [path, p] of procedures) {
      const base = inputOf(p);
      for (const [i, pos] of positions(base).strings.entries()) {
        expectRefused(`trpc ${path} control@${pos.join(".")}`, await trpc(path, p._def.type, JSON.stringify(withString(base, pos, CONTROL[i % CONTROL.length]!))), CONTROL_CHARS);
      }
    }
  });

  it("refuses prototype keys in every body position and control characters in every body, query and path value of every /api/v1 operation", async () => {
    for (const op of operations()) {
      const name = `${op.method} ${op.path}`;
      if (op.path === "/health" || op.path === "/openapi.json") continue; // take no input
      if (op.body !== undefined) {
        for (const [i, pos] of positions(op.body).objects.entries()) {
          const key = PROTO_KEYS[i % PROTO_KEYS.length]!;
          expectRefused(`${name} ${key}@${pos.join(".") || "(top)"}`, await rest(op, { body: withKey(op.body, pos, key) }), PROTO);
        }
        for (const [i, pos] of positions(op.body).strings.entries()) {
          expectRefused(`${name} control@${pos.join(".")}`, await rest(op, { body: JSON.stringify(withString(op.body, pos, CONTROL[i % CONTROL.length]!)) }), CONTROL_CHARS);
        }
      }
      // Query and path values reach the procedure as strings: its input guard refuses them.
      for (const q of op.query) expectRefused(`${name} control@?${q}`, await rest(op, { query: `?${q}=${encodeURIComponent("a\u0000b")}` }), CONTROL_CHARS);
      if (op.path.includes("{")) expectRefused(`${name} control@{path}`, await rest(op, { pathValue: "a\u0000b", body: op.body === undefined ? undefined : JSON.stringify(op.body) }), CONTROL_CHARS);
    }
  });

  it("answers 413 to oversized and 400 to deeply nested bodies on every mutation and body-taking operation", async () => {
    const huge = JSON.stringify({ pad: "x".repeat(1_100_000) });
    let deep = "1";
    for (let i = 0; i < 60; i++) deep = `{"d":${deep}}`;
    for (const [path, p] of procedures.filter(([, p]) => p._def.type === "mutation")) {
      expectRefused(`trpc ${path} oversized`, await trpc(path, "mutation", huge), TOO_LARGE);
      expectRefused(`trpc ${path} deep`, await trpc(path, "mutation", deep), TOO_DEEP);
    }
    for (const op of operations().filter((o) => o.body !== undefined)) {
      expectRefused(`${op.method} ${op.path} oversized`, await rest(op, { body: huge }), TOO_LARGE);
      expectRefused(`${op.method} ${op.path} deep`, await rest(op, { body: deep }), TOO_DEEP);
    }
  });

  it("refuses a non-JSON or cross-origin body sent with a session cookie on every mutation and operation", async () => {
    const asForm = { cookie, origin: ORIGIN, "content-type": "text/plain" };
    const crossSite = { cookie, origin: "http://localhost:4000", "content-type": "application/json" };
    for (const [path, p] of procedures.filter(([, p]) => p._def.type === "mutation")) {
      const body = JSON.stringify(inputOf(p) ?? {});
      expectRefused(`trpc ${path} text/plain+cookie`, await send(handleTrpcRequest, `${ORIGIN}/api/trpc/${path}`, { method: "POST", headers: asForm, body: `{"json":${body}}` }), NOT_JSON);
      expectRefused(`trpc ${path} cross-origin+cookie`, await send(handleTrpcRequest, `${ORIGIN}/api/trpc/${path}`, { method: "POST", headers: crossSite, body: `{"json":${body}}` }), CROSS_SITE);
    }
    for (const op of operations().filter((o) => o.method !== "GET")) {
      const body = JSON.stringify(op.body ?? {});
      expectRefused(`${op.method} ${op.path} text/plain+cookie`, await rest(op, { body, headers: asForm }), NOT_JSON);
      expectRefused(`${op.method} ${op.path} cross-origin+cookie`, await rest(op, { body, headers: crossSite }), CROSS_SITE);
    }
  });

  it("refuses a prototype key at every object position for server-side callers too (the procedures' own guard)", async () => {
    const caller: any = createCaller(createContextInner({ principal: { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" } }));
    for (const [path, p] of procedures) {
      const base = inputOf(p);
      for (const [i, pos] of positions(base ?? {}).objects.entries()) {
        const key = PROTO_KEYS[i % PROTO_KEYS.length]!;
        let fn = caller;
        for (const part of path.split(".")) fn = fn[part];
        const outcome = await fn(JSON.parse(withKey(base, pos, key))).then(
          () => ({ status: 200, message: "" }),
          (e: { code?: string; message?: string }) => ({ status: e.code === "BAD_REQUEST" ? 400 : 500, message: e.message ?? "" }),
        );
        expectRefused(`caller ${path} ${key}@${pos.join(".") || "(top)"}`, outcome, PROTO);
      }
    }
  });

  it("leaves every call refused with a message, nothing saved, and the process healthy", async () => {
    expect(calls).toBeGreaterThan(400); // the sweep really ran (455 calls when written)
    expect(failures).toEqual([]);
    expect(await counts()).toEqual(before);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await handleApiRequest(new Request(`${ORIGIN}/api/v1/health`))).status).toBe(200);
  });
});
