// The OpenAPI 3.1 document of /api/v1, generated from the routes' zod schemas.
import { z } from "zod";
import { routes } from "./routes.ts";

const ZErrorBody = z.object({
  error: z.object({
    code: z.string(),
    category: z.enum(["TRANSIENT", "CONFIGURATION", "DATA", "FATAL"]).optional(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

const schema = (t: z.ZodType, io: "input" | "output") =>
  z.toJSONSchema(t, { io, target: "draft-2020-12", unrepresentable: "any" });

let cached: object | undefined;

export function openApiDocument() {
  cached ??= build();
  return cached;
}

function build() {
  const errorResponse = (description: string) => ({
    description,
    content: { "application/json": { schema: schema(ZErrorBody, "output") } },
  });
  const paths: Record<string, Record<string, unknown>> = {
    "/health": {
      get: {
        summary: "Product health: web, database and queue",
        tags: ["meta"],
        security: [],
        responses: { 200: { description: "all answer" }, 503: { description: "a dependency does not answer" } },
      },
    },
  };
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    const queryParams = r.query
      ? Object.entries((schema(r.query, "input") as { properties?: Record<string, object> }).properties ?? {}).map(([name, s]) => ({
          name,
          in: "query",
          required: false,
          schema: s,
        }))
      : [];
    const status = String(r.status ?? 200);
    paths[r.path] ??= {};
    paths[r.path]![r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      parameters: [...params, ...queryParams],
      ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: schema(r.body, "input") } } } } : {}),
      responses: {
        [status]: r.response
          ? { description: "success", content: { "application/json": { schema: schema(r.response, "output") } } }
          : { description: "success" },
        400: errorResponse("invalid input: issues name each field path; nothing was saved"),
        401: errorResponse("no or unknown credentials"),
        403: errorResponse("the caller's role is too low"),
        404: errorResponse("not found"),
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "ECM Connect API",
      version: "1",
      description: "Public HTTP API of ECM Connect. Authenticate with Authorization: Bearer <token>.",
    },
    servers: [{ url: "/api/v1" }],
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }],
    paths,
  };
}
