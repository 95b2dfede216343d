// The public REST API (/api/v1) is a view of the tRPC procedures, not a second declaration of
// them: every procedure whose meta gives it a method and a path (rest() in server/api/trpc.ts) is a
// route. Its input is the JSON body (POST, PUT, PATCH) or the query string (GET, DELETE) with the
// path parameters added, checked by the procedure's own zod schema, and it is called through a
// server-side caller, so roles, validation and services are the console's. The OpenAPI document
// (openapi.ts) is generated from the same procedures.
import { z } from "zod";
import { appRouter, createCaller } from "../api/root.ts";
import type { ApiMeta } from "../api/trpc.ts";

type Procedure = { _def: { type: string; meta?: ApiMeta; inputs: z.ZodType[] } };
type QueryType = "number" | "boolean";

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
  /** Query parameters that are not strings in the input schema, and what they are. */
  queryTypes: ReadonlyMap<string, QueryType>;
};

function queryTypesOf(input: z.ZodType | undefined): Map<string, QueryType> {
  const types = new Map<string, QueryType>();
  if (!input) return types;
  const schema = z.toJSONSchema(input, { io: "input", unrepresentable: "any" }) as { properties?: Record<string, { type?: string }> };
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (property.type === "number" || property.type === "integer") types.set(name, "number");
    else if (property.type === "boolean") types.set(name, "boolean");
  }
  return types;
}

function buildRoutes(): RestRoute[] {
  const procedures = (appRouter._def as unknown as { procedures: Record<string, Procedure> }).procedures;
  const routes: RestRoute[] = [];
  for (const [name, procedure] of Object.entries(procedures)) {
    const meta = procedure._def.meta;
    if (!meta?.openapi) continue;
    const { method, path } = meta.openapi;
    const params: string[] = [];
    const pattern = new RegExp("^" + path.replace(/\{(\w+)\}/g, (_, param: string) => (params.push(param), "([^/]+)")) + "/?$");
    const input = procedure._def.inputs[0];
    routes.push({ method, path, procedure: name, status: meta.successStatus ?? 200, pattern, params, noInput: !input, queryTypes: queryTypesOf(input) });
  }
  return routes;
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

/** A query string as input: numbers and booleans where the schema says so, a repeated key as a list. */
function queryInput(route: RestRoute, query: URLSearchParams): Record<string, unknown> {
  const input: Record<string, unknown> = Object.create(null);
  for (const key of new Set(query.keys())) {
    const values = query.getAll(key).map((raw): unknown => {
      const type = route.queryTypes.get(key);
      if (type === "number" && /^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
      if (type === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
      return raw; // left as sent: the schema names the field and what it expected
    });
    input[key] = values.length === 1 ? values[0] : values;
  }
  return input;
}

export class BodyNotAnObject extends Error {}

/** The procedure's input: body or query, and the path parameters, which win over both. */
export function restInput(match: RestMatch, query: URLSearchParams, body: unknown): unknown {
  if (match.route.noInput) return undefined;
  const usesBody = ["POST", "PUT", "PATCH"].includes(match.route.method);
  if (usesBody && (typeof body !== "object" || body === null || Array.isArray(body))) throw new BodyNotAnObject();
  const input: Record<string, unknown> = Object.create(null);
  Object.assign(input, usesBody ? body : queryInput(match.route, query), match.params);
  return input;
}

/** Calls the route's procedure as the caller the context names. */
export async function callRoute(caller: ReturnType<typeof createCaller>, route: RestRoute, input: unknown): Promise<unknown> {
  let fn: unknown = caller;
  // Procedure names come from the router itself, never from the request.
  for (const part of route.procedure.split(".")) fn = (fn as Record<string, unknown>)[part];
  return (fn as (input: unknown) => Promise<unknown>)(input);
}
