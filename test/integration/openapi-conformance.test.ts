// The public API against its own OpenAPI document: the test walks the document served at
// /api/v1/openapi.json, calls every operation in it on a real source (PostgreSQL with logical
// replication) with a real worker, and validates each answer's body against the schema the document
// gives for the status it came with. Success is the documented success status; every operation is
// also called without credentials and its 401 validated. An operation added to the API without a
// call here fails the test, and so does any answer its document does not describe.
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alert } from "../../server/alerts/service.ts";
import { startWorker } from "../../worker/runtime.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { adminToken, api, type ApiResult } from "../support/http.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";

type Schema = Record<string, unknown>;
type Operation = {
  parameters?: { name: string; in: "path" | "query"; required?: boolean; schema: Schema }[];
  requestBody?: { content: { "application/json": { schema: Schema } } };
  responses: Record<string, { content?: { "application/json": { schema: Schema } } }>;
  security?: unknown[];
};
type Document = { paths: Record<string, Record<string, Operation>>; components: Schema };
const DOC_ID = "https://ecm.local/openapi.json";

/** One call of an operation: path parameters, query, body, and the status it must answer with. */
type Call = { params?: Record<string, string>; query?: Record<string, string>; body?: unknown; status?: number; then?: (r: ApiResult) => void | Promise<void> };

let doc: Document;
let ajv: InstanceType<typeof Ajv2020>;
let source: Awaited<ReturnType<typeof createSourceDatabase>>;
let worker: Awaited<ReturnType<typeof startWorker>> | undefined;

const state: Record<string, string> = Object.create(null);
const MAPPING = {
  mappings: [
    {
      source: { table: "customers" },
      target: { context_type: "customer" },
      fields: [
        { source: "id", target: "context_id" },
        { source: "email", target: "data.email" },
        { source: "prefs", target: "data.prefs", transform: "json_parse" },
        { source: "id", target: "data.id" },
      ],
    },
  ],
};

const runFinished = (runId: string) =>
  waitFor(`run ${runId}`, async () => {
    const run = (await api("GET", `/runs/${runId}`, { token: adminToken() })).body;
    return ["succeeded", "failed", "cancelled"].includes(run.status) ? run : undefined;
  }, 60_000, 200);
const sourceState = async () => (await api("GET", `/sources/${state.source}/status`, { token: adminToken() })).body;

/**
 * Every operation of the document, in the order a user would meet them, with what to send. Keys
 * are "METHOD /path" exactly as documented.
 */
const PLAN: [string, Call[]][] = [
  ["GET /health", [{}]],
  ["GET /openapi.json", [{}]],
  ["GET /connector-types", [{}]],
  ["GET /workers", [{ then: (r) => expect(r.body.workers.length).toBeGreaterThan(0) }]],
  ["POST /sources", [{ body: () => ({ name: "conformance", config: source.config }), status: 201, then: (r) => void (state.source = r.body.id) }]],
  ["GET /sources", [{ query: { limit: "10" } }]],
  ["GET /sources/{id}", [{}]],
  ["PATCH /sources/{id}", [{ body: { name: "conformance (renamed)" } }]],
  ["POST /sources/{id}/health", [{}]],
  ["GET /sources/{id}/capabilities", [{}]],
  ["GET /sources/{id}/entities", [{}]],
  ["GET /sources/{id}/entities/{name}", [{ params: { name: "customers" } }]],
  ["PUT /sources/{id}/mappings", [{ body: MAPPING }]],
  ["GET /sources/{id}/mappings", [{}]],
  ["GET /sources/{id}/mappings/coverage", [{}]],
  ["POST /sources/{id}/preview", [{ body: { entity: "customers", limit: 5 } }]],
  [
    "POST /sources/{id}/snapshot",
    [{ body: {}, status: 202, then: async (r) => expect((await runFinished(r.body.run_id)).status).toBe("succeeded") }],
  ],
  ["GET /runs", [{ query: { source_id: "{source}", limit: "5" }, then: (r) => void (state.run = r.body.runs[0].id) }]],
  ["GET /runs/{id}", [{ params: { id: "{run}" } }]],
  [
    "GET /dead-letters",
    [{ query: { source_id: "{source}", status: "open", limit: "10" }, then: (r) => {
      expect(r.body.dead_letters).toHaveLength(2);
      [state.deadLetter, state.otherDeadLetter] = r.body.dead_letters.map((d: { id: string }) => d.id);
    } }],
  ],
  ["GET /dead-letters/{id}", [{ params: { id: "{deadLetter}" } }]],
  ["POST /dead-letters/{id}/discard", [{ params: { id: "{otherDeadLetter}" } }]],
  ["POST /dead-letters/replay", [{ body: () => ({ ids: [state.deadLetter] }), status: 202, then: (r) => runFinished(r.body.run_id) }]],
  ["GET /contexts", [{ query: { context_type: "customer", limit: "5" } }]],
  ["GET /contexts/{context_type}/{context_id}", [{ params: { context_type: "customer", context_id: "1" } }]],
  [
    "POST /sources/{id}/stream",
    [{ body: { action: "start", batch_size: 50 }, status: 202, then: async () => {
      await waitFor("streaming", async () => (await sourceState()).state === "streaming", 60_000, 200);
      // A change goes through, so the stream has a durable cursor to show and to set.
      await source.query("INSERT INTO customers VALUES (21, 'c21@example.com', '{}')");
      await waitFor("the change in the store", async () => (await api("GET", "/contexts/customer/21", { token: adminToken() })).status === 200, 60_000, 200);
    } }],
  ],
  ["GET /sources/{id}/status", [{}]],
  ["GET /sources/{id}/schedule", [{ then: (r) => expect(r.body).toEqual({ schedule: null, entities: [] }) }]],
  // A source with a change stream has no schedule to pause: refused, with what to do.
  ["POST /sources/{id}/schedule", [{ body: { action: "pause" }, status: 400 }]],
  [
    "POST /sources/{id}/stream/entities/{entity}",
    [
      { params: { entity: "customers" }, body: { action: "pause" }, status: 202 },
      { params: { entity: "customers" }, body: { action: "resume" }, status: 202, then: async (r) => void (r.body.run_id && (await runFinished(r.body.run_id))) },
    ],
  ],
  ["GET /sources/{id}/cursor", []], // called below, once the stream is stopped
  ["PUT /sources/{id}/cursor", []],
  [
    "POST /sources/{id}/operations",
    [
      { body: { operation: "connector.list_entities" } },
      { body: { operation: "connector.describe_entity", entity: "customers" } },
      { body: { operation: "connector.health_check" } },
      { body: { operation: "connector.get_capabilities" } },
      { body: { operation: "connector.extract_snapshot", entity: "customers", batch_size: 5 }, then: (r) => expect(r.body.contexts).toHaveLength(5) },
    ],
  ],
  ["GET /alerts", []], // below, after an alert is raised
  ["POST /alerts/{id}/resolve", []],
  ["GET /users", [{}]],
  ["POST /users", [{ body: { email: "conformance@ecm.local", name: "conformance", password: "conformance-password", role: "viewer" }, status: 201 }]],
  ["GET /tokens", [{}]],
  ["POST /tokens", [{ body: { name: "conformance", role: "viewer" }, status: 201, then: (r) => void (state.token = r.body.api_token.id) }]],
  ["POST /tokens/{id}/revoke", [{ params: { id: "{token}" } }]],
  ["GET /audit", []], // below, after the changes
  ["DELETE /sources/{id}", []], // last of all
];

/** After the plan's first pass: the calls that need the stream stopped, an alert, and the end. */
const LATER: [string, Call[]][] = [
  ["POST /sources/{id}/stream", [{ body: { action: "stop" }, status: 202 }]],
  ["GET /sources/{id}/cursor", [{ then: (r) => void (state.cursor = r.body.cursor) }]],
  ["PUT /sources/{id}/cursor", [{ body: () => ({ cursor: state.cursor }) }]],
  [
    "POST /sources/{id}/operations",
    [{ body: { operation: "connector.stream_changes", batch_size: 10 }, then: (r) => expect(r.body).toHaveProperty("changes") }],
  ],
  ["GET /alerts", [{ query: { status: "open", limit: "10" }, then: (r) => void (state.alert = r.body.alerts[0].id) }]],
  ["POST /alerts/{id}/resolve", [{ params: { id: "{alert}" } }]],
  // Every change above left an entry (the conformance of each is audit.test.ts's).
  ["GET /audit", [{ query: { source_id: "{source}", limit: "100" }, then: (r) => expect(r.body.entries.length).toBeGreaterThan(5) }]],
  ["DELETE /sources/{id}", [{ status: 204 }]],
];

const fill = (value: string) => value.replace(/^\{(\w+)\}$/, (_, name: string) => state[name] ?? `(no ${name} yet)`);

function successStatus(op: Operation): number {
  return Number(Object.keys(op.responses).find((s) => s.startsWith("2")));
}

/** Validates a body against the operation's schema for the status it came with. */
function expectConforms(name: string, op: Operation, status: number, body: unknown) {
  const response = op.responses[String(status)];
  expect(response, `${name}: status ${status} is not documented (body: ${JSON.stringify(body)?.slice(0, 300)})`).toBeDefined();
  const schema = response!.content?.["application/json"]?.schema;
  if (!schema) {
    expect(body, `${name}: ${status} is documented without a body`).toBeNull();
    return;
  }
  const validate = ajv.compile({ ...schema, $id: `${name} ${status}`.replace(/[^A-Za-z0-9]+/g, "-") + Math.random().toString(36).slice(2) });
  const ok = validate(body);
  expect(ok, `${name} ${status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)?.slice(0, 500)}`).toBe(true);
}

async function perform(key: string, call: Call) {
  const [method, path] = key.split(" ") as [string, string];
  const op = doc.paths[path]?.[method.toLowerCase()];
  expect(op, `${key} is not in the document`).toBeDefined();
  const params = { id: "{source}", ...call.params };
  const url =
    path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(fill(params[name as keyof typeof params] ?? ""))) +
    (call.query ? "?" + new URLSearchParams(Object.entries(call.query).map(([k, v]) => [k, fill(v)])).toString() : "");
  const body = typeof call.body === "function" ? (call.body as () => unknown)() : call.body;
  if (body !== undefined && op!.requestBody) {
    // What this test sends is what the document says may be sent.
    const validate = ajv.compile(op!.requestBody.content["application/json"].schema);
    expect(validate(body), `${key} request: ${ajv.errorsText(validate.errors)}`).toBe(true);
  }
  const r = await api(method, url, { token: adminToken(), ...(body !== undefined ? { body } : {}) });
  const expected = call.status ?? successStatus(op!);
  expect(r.status, `${key}: ${r.text.slice(0, 500)}`).toBe(expected);
  expectConforms(key, op!, r.status, r.body);
  await call.then?.(r);
}

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters, alerts"));
  source = await createSourceDatabase(
    "ecm_src_conformance",
    `CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, prefs text);
     INSERT INTO customers SELECT i, 'c' || i || '@example.com', '{"n": ' || i || '}' FROM generate_series(1, 20) i;
     UPDATE customers SET prefs = '{broken' WHERE id IN (3, 4);`,
  );
  worker = await startWorker();
  const served = await api("GET", "/openapi.json");
  expect(served.status).toBe(200);
  // Each schema is compiled on its own: its "#/components/…" references point into the document.
  const rebase = (s: unknown): unknown =>
    Array.isArray(s) ? s.map(rebase) : s && typeof s === "object"
      ? Object.fromEntries(Object.entries(s).map(([k, v]) => [k, k === "$ref" && typeof v === "string" && v.startsWith("#/") ? `${DOC_ID}${v}` : rebase(v)]))
      : s;
  doc = rebase(served.body) as Document;
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: DOC_ID, components: doc.components });
}, 120_000);
afterAll(async () => {
  await worker?.close();
});

describe("the OpenAPI document", () => {
  it("names a call in this test for every operation it documents", () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const planned = new Set([...PLAN, ...LATER].filter(([, calls]) => calls.length).map(([key]) => key));
    expect(documented.filter((k) => !planned.has(k)), "operations without a conformance call").toEqual([]);
    expect([...planned].filter((k) => !documented.includes(k)), "calls of undocumented operations").toEqual([]);
  });

  it("refuses every operation but health and the document without credentials, with its documented error body", async () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const url = path.replace(/\{\w+\}/g, "00000000-0000-4000-8000-000000000000");
        const r = await api(method.toUpperCase(), url, method === "get" || method === "delete" ? {} : { body: {} });
        if (op.security && op.security.length === 0) {
          expect(r.status, `${method} ${path}`).toBe(200);
          continue;
        }
        expect(r.status, `${method} ${path}`).toBe(401);
        expectConforms(`${method} ${path}`, op, 401, r.body);
      }
    }
  });

  it("answers every operation as documented, on a real source with a worker", async () => {
    for (const [key, calls] of PLAN) for (const call of calls) await perform(key, call);
    await alert({ sourceId: state.source!, category: "CONFIGURATION", message: "conformance alert", hint: "none" });
    for (const [key, calls] of LATER) {
      if (key === "GET /sources/{id}/cursor") await waitFor("the stream to stop", async () => (await sourceState()).stream.owner === null, 60_000, 200);
      for (const call of calls) await perform(key, call);
    }
  }, 300_000);
});
