// The public REST API (/api/v1) is a view of the tRPC procedures, not a second declaration of
// them: every procedure whose meta gives it a method and a path (rest() in server/api/trpc.ts) is a
// route. Its input is the JSON body (POST, PUT, PATCH) or the query string (GET, DELETE) with the
// path parameters added, checked by the procedure's own zod schema, and it is called through a
// server-side caller, so roles, validation and services are the console's. The OpenAPI document
// (openapi.ts) is generated from the same procedures.
import { z } from "zod";
import { appRouter, createCaller } from "../api/root.ts";
import type { ApiMeta } from "../api/trpc.ts";

type Procedure = { _def: { type: "query" | "mutation" | "subscription"; meta?: ApiMeta; inputs: z.ZodType[] } };
/** How a query value becomes input: a number, a boolean, or the text as sent. */
type FieldType = "number" | "boolean" | "text";

/** Every procedure of the router by its dotted name (the one place that reads tRPC's internals). */
export function allProcedures(): [string, Procedure][] {
  return Object.entries((appRouter._def as unknown as { procedures: Record<string, Procedure> }).procedures);
}

/** Methods whose input is the JSON body; the others take it from the query string. */
export const acceptsBody = (method: string) => method === "POST" || method === "PUT" || method === "PATCH";

export type RestRoute = {
  method: string;
  /** As documented: `/sources/{id}`. */
  path: string;
  /** The tRPC procedure it calls: `sources.get`. */
  procedure: string;
  status: number;
  pattern: RegExp;
  params: string[];
  /** No input at all (the procedure takes none). */
  noInput: boolean;
  /** The input's top-level fields and their JSON types: the query keys a GET or DELETE takes. */
  fields: ReadonlyMap<string, FieldType>;
};

function fieldsOf(input: z.ZodType | undefined): Map<string, FieldType> {
  const fields = new Map<string, FieldType>();
  if (!input) return fields;
  type Json = { type?: string | string[]; anyOf?: Json[] };
  const schema = z.toJSONSchema(input, { io: "input", unrepresentable: "any" }) as { properties?: Record<string, Json> };
  const typesOf = (s: Json): string[] => [...[s.type ?? []].flat(), ...(s.anyOf ?? []).flatMap(typesOf)];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const types = typesOf(property);
    fields.set(name, types.includes("number") || types.includes("integer") ? "number" : types.includes("boolean") ? "boolean" : "text");
  }
  return fields;
}

function buildRoutes(): RestRoute[] {
  const routes: RestRoute[] = [];
  const seen = new Set<string>();
  for (const [name, procedure] of allProcedures()) {
    const meta = procedure._def.meta;
    if (!meta?.openapi || meta.openapi.enabled === false) continue;
    const { method, path } = meta.openapi;
    // A GET must not change anything: a session's GET passes no cross-site check (request-guard.ts).
    if ((method === "GET") !== (procedure._def.type === "query")) throw new Error(`${name}: a ${procedure._def.type} cannot be served as ${method}`);
    if (seen.has(`${method} ${path}`)) throw new Error(`${name}: ${method} ${path} is served twice`);
    seen.add(`${method} ${path}`);
    const params: string[] = [];
    const pattern = new RegExp("^" + path.replace(/\{(\w+)\}/g, (_, param: string) => (params.push(param), "([^/]+)")) + "/?$");
    const input = procedure._def.inputs[0];
    if (procedure._def.inputs.length > 1) throw new Error(`${name}: one input schema per public procedure`);
    const fields = fieldsOf(input);
    for (const param of params) if (!fields.has(param)) throw new Error(`${name}: path parameter {${param}} is not a field of its input`);
    routes.push({ method, path, procedure: name, status: meta.successStatus ?? 200, pattern, params, noInput: !input, fields });
  }
  // Literal segments win over parameters: /dead-letters/replay before /dead-letters/{id}.
  return routes.sort((a, b) => a.params.length - b.params.length);
}

let cached: RestRoute[] | undefined;
export const restRoutes = (): RestRoute[] => (cached ??= buildRoutes());

export type RestMatch = { route: RestRoute; params: Record<string, string> };

/** The route for a method and a path below /api/v1; "method" when the path exists with other methods. */
export function matchRestRoute(method: string, path: string): RestMatch | "method" | "malformed" | null {
  let pathMatched = false;
  for (const route of restRoutes()) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (route.method !== method) continue;
    const params: Record<string, string> = Object.create(null);
    try {
      route.params.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1]!)));
    } catch {
      return "malformed";
    }
    return { route, params };
  }
  return pathMatched ? "method" : null;
}

/**
 * A query string as input: only the fields the input has (others are ignored, as they always
 * were), an empty value as absent, numbers and booleans where the schema says so, and a repeated
 * key as a list.
 */
function queryInput(route: RestRoute, query: URLSearchParams): Record<string, unknown> {
  const input: Record<string, unknown> = Object.create(null);
  for (const [key, type] of route.fields) {
    const values = query.getAll(key).filter((raw) => raw !== "").map((raw): unknown => {
      if (type === "number" && /^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
      if (type === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
      return raw; // left as sent: the schema names the field and what it expected
    });
    if (values.length) input[key] = values.length === 1 ? values[0] : values;
  }
  return input;
}

export class BodyNotAnObject extends Error {}

/** The procedure's input: body or query, and the path parameters, which win over both. */
export function restInput(match: RestMatch, query: URLSearchParams, body: unknown): unknown {
  if (match.route.noInput) return undefined;
  const usesBody = acceptsBody(match.route.method);
  const sent = body ?? {}; // `null` or no body: nothing sent
  if (usesBody && (typeof sent !== "object" || Array.isArray(sent))) throw new BodyNotAnObject();
  const input: Record<string, unknown> = Object.create(null);
  Object.assign(input, usesBody ? sent : queryInput(match.route, query), match.params);
  return input;
}

/** Calls the route's procedure as the caller the context names. */
export async function callRoute(caller: ReturnType<typeof createCaller>, route: RestRoute, input: unknown): Promise<unknown> {
  let fn: unknown = caller;
  // Procedure names come from the router itself, never from the request.
  for (const part of route.procedure.split(".")) fn = (fn as Record<string, unknown>)[part];
  return (fn as (input: unknown) => Promise<unknown>)(input);
}
