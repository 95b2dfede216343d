// The public HTTP API v1 (docs/API.md): each route calls a tRPC procedure through a server-side
// caller, so roles, validation and services are the ones the console uses, and the OpenAPI
// document is generated from the same zod schemas.
import { z } from "zod";
import type { createCaller } from "../api/root.ts";
import { ZConnectorTypeInfo } from "../api/routers/connectors.ts";
import { ZWorkerInfo } from "../api/routers/system.ts";
import {
  ZCreateSourceInput,
  ZSource,
  ZUpdateSourceInput,
} from "../sources/schemas.ts";
import { ZCapabilities, ZEntitySchema, ZEntityType, ZHealthStatus } from "../connectors/schemas.ts";
import { ZOperation } from "../sources/operations.ts";
import { ZMappingDocument } from "../mapping/spec.ts";
import { ZMappings, ZPreview, ZPreviewInput } from "../mapping/service.ts";
import { ZStoredContext } from "../contexts/service.ts";
import { ZRun } from "../runs/service.ts";
import { ZDeadLetter, ZReplayInput } from "../dead-letters/service.ts";
import { ZEntityAction, ZSourceOverviewList, ZSourceStatus, ZStreamAction } from "../streams/service.ts";
import { ZAlert } from "../api/routers/alerts.ts";
import { ZCreateTokenInput, ZCreatedToken, ZApiToken } from "../auth/tokens.ts";
import { ZCreateUserInput, ZUser } from "../auth/users.ts";

type Caller = ReturnType<typeof createCaller>;
export type RouteRequest = { params: Record<string, string>; query: URLSearchParams; body: unknown };

export type RouteDef = {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  path: string;
  summary: string;
  tag: string;
  /** Success status (200 unless said otherwise). */
  status?: number;
  /** The request body (or, for GET, the query) as documented. */
  body?: z.ZodType;
  query?: z.ZodType;
  response?: z.ZodType;
  call: (caller: Caller, req: RouteRequest) => Promise<unknown>;
};

const limitAndCursor = (q: URLSearchParams) => ({
  ...(q.has("limit") ? { limit: Number(q.get("limit")) } : {}),
  ...(q.get("cursor") ? { cursor: q.get("cursor")! } : {}),
});
const ZListQuery = z.object({ limit: z.number().int().optional(), cursor: z.string().optional() });

export const routes: RouteDef[] = [
  {
    method: "GET",
    path: "/sources",
    tag: "sources",
    summary: "List sources",
    query: ZListQuery,
    response: ZSourceOverviewList,
    call: (c, r) => c.sources.list(limitAndCursor(r.query)),
  },
  {
    method: "POST",
    path: "/sources",
    tag: "sources",
    summary: "Register a source (connection config as in the spec; a typed authentication.password is stored encrypted)",
    status: 201,
    body: ZCreateSourceInput,
    response: ZSource,
    call: (c, r) => c.sources.create(r.body as never),
  },
  {
    method: "GET",
    path: "/sources/{id}",
    tag: "sources",
    summary: "Get a source",
    response: ZSource,
    call: (c, r) => c.sources.get({ id: r.params.id! }),
  },
  {
    method: "PATCH",
    path: "/sources/{id}",
    tag: "sources",
    summary: "Rename a source or replace its config",
    body: ZUpdateSourceInput.omit({ id: true }),
    response: ZSource,
    call: (c, r) => c.sources.update({ ...(r.body as object), id: r.params.id! }),
  },
  {
    method: "DELETE",
    path: "/sources/{id}",
    tag: "sources",
    summary: "Delete a source and its replication slot and publication on the source (?drop_slot=false leaves them; 409 with the SQL when they cannot be dropped)",
    status: 204,
    query: z.object({ drop_slot: z.boolean().optional() }),
    call: (c, r) => c.sources.delete({ id: r.params.id!, drop_slot: r.query.get("drop_slot") !== "false" }),
  },
  {
    method: "POST",
    path: "/sources/{id}/health",
    tag: "connectors",
    summary: "Run the connector's health checks against the source",
    response: ZHealthStatus,
    call: (c, r) => c.sources.health({ id: r.params.id! }),
  },
  {
    method: "GET",
    path: "/sources/{id}/capabilities",
    tag: "connectors",
    summary: "The connector's getCapabilities()",
    response: ZCapabilities,
    call: (c, r) => c.sources.capabilities({ id: r.params.id! }),
  },
  {
    method: "GET",
    path: "/sources/{id}/entities",
    tag: "connectors",
    summary: "Tables, partitioned tables and views of the source",
    response: z.object({ entities: z.array(ZEntityType) }),
    call: (c, r) => c.sources.entities({ id: r.params.id! }),
  },
  {
    method: "GET",
    path: "/sources/{id}/entities/{name}",
    tag: "connectors",
    summary: "Columns, types, keys and replica identity of one entity (`customers` or `schema.table`)",
    response: ZEntitySchema,
    call: (c, r) => c.sources.entity({ id: r.params.id!, name: r.params.name! }),
  },
  {
    method: "POST",
    path: "/sources/{id}/operations",
    tag: "connectors",
    summary: "The spec's operation envelope: connector.list_entities, describe_entity, health_check, get_capabilities, extract_snapshot (paged), stream_changes",
    body: ZOperation,
    call: (c, r) => c.sources.operation({ id: r.params.id!, request: r.body as never }),
  },
  {
    method: "GET",
    path: "/sources/{id}/mappings",
    tag: "mappings",
    summary: "The mapping in force (the spec's format) and its version",
    response: ZMappings,
    call: (c, r) => c.mappings.get({ id: r.params.id! }),
  },
  {
    method: "PUT",
    path: "/sources/{id}/mappings",
    tag: "mappings",
    summary: "Save a mapping document as a new version, after checking it against the source's schema",
    body: ZMappingDocument,
    response: ZMappings,
    call: (c, r) => c.mappings.save({ id: r.params.id!, mappings: (r.body as { mappings?: never }).mappings as never }),
  },
  {
    method: "POST",
    path: "/sources/{id}/preview",
    tag: "mappings",
    summary: "Sample rows of an entity through the saved or a draft mapping: raw row, mapped context, per-field errors",
    body: ZPreviewInput,
    response: ZPreview,
    call: (c, r) => c.mappings.preview({ ...(r.body as object), id: r.params.id! } as never),
  },
  {
    method: "POST",
    path: "/sources/{id}/snapshot",
    tag: "runs",
    summary: "Queue a snapshot of the mapped entities (or those named); a worker runs it",
    status: 202,
    body: z.object({ entities: z.array(z.string()).optional() }),
    response: z.object({ run_id: z.string() }),
    call: (c, r) => c.runs.snapshot({ id: r.params.id!, ...((r.body as { entities?: string[] }).entities ? { entities: (r.body as { entities: string[] }).entities } : {}) }),
  },
  {
    method: "POST",
    path: "/sources/{id}/stream",
    tag: "streams",
    summary: 'Start ({"action":"start"}, with the spec\'s stream_changes fields cursor, batch_size, include_operations) or stop the change stream; approve_schema resumes after a schema change',
    status: 202,
    body: ZStreamAction,
    response: z.object({ run_id: z.string().nullable() }),
    call: (c, r) => c.streams.action({ id: r.params.id!, request: r.body as never }),
  },
  {
    method: "GET",
    path: "/sources/{id}/status",
    tag: "streams",
    summary: "State, cursor, lag (bytes, seconds), last checkpoint, error; stream and slot detail",
    response: ZSourceStatus,
    call: (c, r) => c.streams.status({ id: r.params.id! }),
  },
  {
    method: "GET",
    path: "/sources/{id}/cursor",
    tag: "streams",
    summary: "The durable stream cursor (pg_lsn:X/Y)",
    response: z.object({ cursor: z.string().nullable() }),
    call: (c, r) => c.streams.cursor({ id: r.params.id! }),
  },
  {
    method: "PUT",
    path: "/sources/{id}/cursor",
    tag: "streams",
    summary: "Move the cursor while the stream is stopped; checked against the slot (not before its confirmed position, not past the WAL)",
    body: z.object({ cursor: z.string() }),
    response: z.object({ cursor: z.string().nullable() }),
    call: (c, r) => c.streams.setCursor({ id: r.params.id!, cursor: (r.body as { cursor: string }).cursor }),
  },
  {
    method: "POST",
    path: "/sources/{id}/stream/entities/{entity}",
    tag: "streams",
    summary: "Pause an entity's changes, resume it (re-snapshots what was skipped), or re-snapshot it, while the rest streams",
    status: 202,
    body: ZEntityAction,
    response: z.object({ run_id: z.string().nullable() }),
    call: (c, r) => c.streams.entity({ id: r.params.id!, entity: r.params.entity!, action: (r.body as { action: "pause" }).action }),
  },
  {
    method: "GET",
    path: "/alerts",
    tag: "alerts",
    summary: "Alerts (CONFIGURATION and FATAL), newest first (?status&source_id&limit&cursor)",
    query: z.object({ status: z.string().optional(), source_id: z.string().optional(), limit: z.number().optional(), cursor: z.string().optional() }),
    response: z.object({ alerts: z.array(ZAlert), next_cursor: z.string().nullable() }),
    call: (c, r) =>
      c.alerts.list({
        ...limitAndCursor(r.query),
        ...Object.fromEntries(["status", "source_id"].filter((k) => r.query.get(k)).map((k) => [k, r.query.get(k)!])),
      } as never),
  },
  {
    method: "POST",
    path: "/alerts/{id}/resolve",
    tag: "alerts",
    summary: "Mark an alert resolved",
    response: ZAlert,
    call: (c, r) => c.alerts.resolve({ id: r.params.id! }),
  },
  {
    method: "GET",
    path: "/runs/{id}",
    tag: "runs",
    summary: "A run: status, counters, progress, error",
    response: ZRun,
    call: (c, r) => c.runs.get({ id: r.params.id! }),
  },
  {
    method: "GET",
    path: "/runs",
    tag: "runs",
    summary: "Runs, newest first (?source_id&limit&cursor)",
    query: z.object({ source_id: z.string().optional(), limit: z.number().optional(), cursor: z.string().optional() }),
    response: z.object({ runs: z.array(ZRun), next_cursor: z.string().nullable() }),
    call: (c, r) => c.runs.list({ ...limitAndCursor(r.query), ...(r.query.get("source_id") ? { source_id: r.query.get("source_id")! } : {}) }),
  },
  {
    method: "GET",
    path: "/dead-letters",
    tag: "dead-letters",
    summary: "Dead letters, newest first (?source_id&category&status&entity&since&until&limit&cursor)",
    query: z.object({ source_id: z.string().optional(), category: z.string().optional(), status: z.string().optional(), entity: z.string().optional(), since: z.string().optional(), until: z.string().optional(), limit: z.number().optional(), cursor: z.string().optional() }),
    response: z.object({ dead_letters: z.array(ZDeadLetter), next_cursor: z.string().nullable() }),
    call: (c, r) =>
      c.deadLetters.list({
        ...limitAndCursor(r.query),
        ...Object.fromEntries(["source_id", "category", "status", "entity", "since", "until"].filter((k) => r.query.get(k)).map((k) => [k, r.query.get(k)!])),
      } as never),
  },
  {
    method: "POST",
    path: "/dead-letters/replay",
    tag: "dead-letters",
    summary: "Replay dead letters by ids or all open ones matching a filter, through the mapping in force now",
    status: 202,
    body: ZReplayInput,
    response: z.object({ run_id: z.string() }),
    call: (c, r) => c.deadLetters.replay(r.body as never),
  },
  {
    method: "GET",
    path: "/dead-letters/{id}",
    tag: "dead-letters",
    summary: "One dead letter: payload, error, attempts, status and outcome",
    response: ZDeadLetter,
    call: (c, r) => c.deadLetters.get({ id: r.params.id! }),
  },
  {
    method: "POST",
    path: "/dead-letters/{id}/discard",
    tag: "dead-letters",
    summary: "Discard a dead letter",
    response: ZDeadLetter,
    call: (c, r) => c.deadLetters.discard({ id: r.params.id! }),
  },
  {
    method: "GET",
    path: "/contexts",
    tag: "contexts",
    summary: "Contexts in key order, filtered by context_type and source_id",
    query: z.object({ context_type: z.string().optional(), source_id: z.string().optional(), limit: z.number().optional(), cursor: z.string().optional() }),
    response: z.object({ contexts: z.array(ZStoredContext), next_cursor: z.string().nullable() }),
    call: (c, r) =>
      c.contexts.list({
        ...limitAndCursor(r.query),
        ...(r.query.get("context_type") ? { context_type: r.query.get("context_type")! } : {}),
        ...(r.query.get("source_id") ? { source_id: r.query.get("source_id")! } : {}),
      }),
  },
  {
    method: "GET",
    path: "/contexts/{context_type}/{context_id}",
    tag: "contexts",
    summary: "One context; 404 when absent or deleted (?include_deleted=true shows tombstones)",
    response: ZStoredContext,
    call: (c, r) => c.contexts.get({ context_type: r.params.context_type!, context_id: r.params.context_id!, include_deleted: r.query.get("include_deleted") === "true" }),
  },
  {
    method: "GET",
    path: "/connector-types",
    tag: "connectors",
    summary: "Connector types and the JSON Schema of their connection config",
    response: z.object({ connector_types: z.array(ZConnectorTypeInfo) }),
    call: (c) => c.connectors.types(),
  },
  {
    method: "GET",
    path: "/workers",
    tag: "meta",
    summary: "Worker processes seen in the last 15 seconds",
    response: z.object({ workers: z.array(ZWorkerInfo) }),
    call: (c) => c.system.workers(),
  },
  {
    method: "GET",
    path: "/users",
    tag: "admin",
    summary: "List console users (admin)",
    response: z.object({ users: z.array(ZUser) }),
    call: (c) => c.users.list(),
  },
  {
    method: "POST",
    path: "/users",
    tag: "admin",
    summary: "Create a console user (admin)",
    status: 201,
    body: ZCreateUserInput,
    response: ZUser,
    call: (c, r) => c.users.create(r.body as never),
  },
  {
    method: "GET",
    path: "/tokens",
    tag: "admin",
    summary: "List API tokens (admin; never the token values)",
    response: z.object({ tokens: z.array(ZApiToken) }),
    call: (c) => c.tokens.list(),
  },
  {
    method: "POST",
    path: "/tokens",
    tag: "admin",
    summary: "Create an API token (admin); the token is in this response only",
    status: 201,
    body: ZCreateTokenInput,
    response: ZCreatedToken,
    call: (c, r) => c.tokens.create(r.body as never),
  },
  {
    method: "POST",
    path: "/tokens/{id}/revoke",
    tag: "admin",
    summary: "Revoke an API token (admin)",
    response: ZApiToken,
    call: (c, r) => c.tokens.revoke({ id: r.params.id! }),
  },
];

/** Finds the route for a method and a path below /api/v1, with its path parameters. */
export function matchRoute(method: string, path: string): { route: RouteDef; params: Record<string, string> } | "method" | null {
  let pathMatched = false;
  for (const route of routes) {
    const names: string[] = [];
    const pattern = new RegExp(
      "^" + route.path.replace(/\{(\w+)\}/g, (_, n: string) => (names.push(n), "([^/]+)")) + "/?$",
    );
    const m = pattern.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (route.method !== method) continue;
    return { route, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])) };
  }
  return pathMatched ? "method" : null;
}
