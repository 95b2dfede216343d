// Request handling for /api/v1/*: auth, JSON, errors in the shape of docs/API.md.
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { createCaller } from "../api/root.ts";
import { categoryOf, createContextInner, issuesOf } from "../api/trpc.ts";
import { principalFromHeaders } from "../auth/principal.ts";
import { AppError } from "../errors/app-error.ts";
import { productHealth } from "../health.ts";
import { logger } from "../logger.ts";
import { openApiDocument } from "./openapi.ts";
import { BodyTooLarge, csrfRefusal, parseJsonBody, readBodyText, tooLarge, type Refusal } from "./request-guard.ts";
import { acceptsBody, BodyNotAnObject, callRoute, matchRestRoute, restInput } from "./rest.ts";

const log = logger("http");

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}

export function errorResponse(status: number, code: string, message: string, extra: object = {}) {
  return json(status, { error: { code, message, ...extra } });
}

function fromError(error: unknown): Response {
  if (error instanceof TRPCError) {
    const status = getHTTPStatusCodeFromError(error);
    const issues = issuesOf(error.cause);
    const category = categoryOf(error.cause);
    const message = issues?.length && error.code === "BAD_REQUEST" ? "Invalid request" : error.message;
    const retryAfter = error.cause instanceof AppError ? error.cause.retryAfter : undefined;
    return json(status, { error: { code: error.code, message, ...(category ? { category } : {}), ...(issues ? { issues } : {}) } }, retryAfter ? { "retry-after": String(retryAfter) } : {});
  }
  log.error({ error }, "unhandled API error");
  return errorResponse(500, "INTERNAL_SERVER_ERROR", "internal error; see the server log");
}

function refuse(r: Refusal) {
  return errorResponse(r.status, r.code, r.message, { category: "CONFIGURATION", ...(r.path ? { issues: [{ path: r.path, message: r.message }] } : {}) });
}

export async function handleApiRequest(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname.replace(/^\/api\/v1/, "") || "/";

  if (req.method === "GET" && path === "/health") {
    // Detail (which dependency failed and why) only for a signed-in caller; anyone gets the status.
    const health = await productHealth();
    const principal = await principalFromHeaders(req.headers).catch(() => null);
    return json(health.status === "ok" ? 200 : 503, principal ? health : { status: health.status });
  }
  if (req.method === "GET" && path === "/openapi.json") return json(200, openApiDocument());

  const match = matchRestRoute(req.method, path);
  if (match === null) return errorResponse(404, "NOT_FOUND", `no route ${req.method} /api/v1${path}; see /api/v1/openapi.json`);
  if (match === "method") return errorResponse(405, "METHOD_NOT_SUPPORTED", `${req.method} is not supported on /api/v1${path}`);
  if (match === "malformed") return errorResponse(400, "BAD_REQUEST", "the path holds a malformed %-escape");

  // In this order: forged cross-site requests, then who is calling, and only then the body.
  const forged = csrfRefusal(req);
  if (forged) return refuse(forged);
  let principal;
  try {
    principal = await principalFromHeaders(req.headers);
  } catch (error) {
    return fromError(error);
  }
  if (!principal) return errorResponse(401, "UNAUTHORIZED", "sign in or send Authorization: Bearer <token>");

  let body: unknown;
  if (acceptsBody(req.method)) {
    let text: string;
    try {
      text = await readBodyText(req);
    } catch (e) {
      if (e instanceof BodyTooLarge) return refuse(tooLarge());
      throw e;
    }
    const parsed = parseJsonBody(text);
    if (!parsed.ok) return refuse(parsed.refusal);
    body = parsed.value;
  }

  try {
    const caller = createCaller(createContextInner({ principal, headers: req.headers }));
    const result = await callRoute(caller, match.route, restInput(match, url.searchParams, body));
    return json(match.route.status, result);
  } catch (error) {
    if (error instanceof BodyNotAnObject) return refuse({ status: 400, code: "BAD_REQUEST", message: "the request body must be a JSON object" });
    return fromError(error);
  }
}
