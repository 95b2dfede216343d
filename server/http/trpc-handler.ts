// The console's tRPC endpoint (/api/trpc) behind the same guard as the public API: a forged
// cross-site change is refused, the caller is known before a body is read, and the body is bounded
// and checked against the JSON rules before tRPC parses it.
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "../api/root.ts";
import { createContextInner } from "../api/trpc.ts";
import { principalFromHeaders } from "../auth/principal.ts";
import { BodyTooLarge, csrfRefusal, parseJsonBody, readBodyText, tooLarge, type Refusal } from "./request-guard.ts";

const ENDPOINT = "/api/trpc";
const MAX_BATCH = 16;
const JSON_RPC_CODES: Record<number, number> = { 400: -32600, 401: -32001, 403: -32003, 413: -32013, 415: -32015 };

/** A refusal in tRPC's own error shape (one per call of a batch), so the console's client reads it. */
function refuse(req: Request, r: Refusal): Response {
  const url = new URL(req.url);
  const paths = url.pathname.slice(ENDPOINT.length + 1).split(",");
  const error = {
    error: { json: { message: r.message, code: JSON_RPC_CODES[r.status] ?? -32600, data: { code: r.code, httpStatus: r.status, path: paths[0], issues: r.path ? [{ path: r.path, message: r.message }] : undefined } } },
  };
  const body = url.searchParams.get("batch") === "1" ? paths.map(() => error) : error;
  return new Response(JSON.stringify(body), { status: r.status, headers: { "content-type": "application/json", "cache-control": "no-store" } });
}

export async function handleTrpcRequest(req: Request): Promise<Response> {
  const forged = csrfRefusal(req);
  if (forged) return refuse(req, forged);
  const principal = await principalFromHeaders(req.headers);
  // A query's input travels in the URL (bounded by the server's header limit): the same JSON rules.
  const queryInput = new URL(req.url).searchParams.get("input");
  if (queryInput) {
    const parsed = parseJsonBody(queryInput);
    if (!parsed.ok) return refuse(req, parsed.refusal);
  }
  let forwarded = req;
  if (req.method === "POST") {
    // Every procedure needs a signed-in caller: an anonymous body is never read.
    if (!principal) return refuse(req, { status: 401, code: "UNAUTHORIZED", message: "sign in or send Authorization: Bearer <token>" });
    let text: string;
    try {
      text = await readBodyText(req);
    } catch (e) {
      if (e instanceof BodyTooLarge) return refuse(req, tooLarge());
      throw e;
    }
    const parsed = parseJsonBody(text);
    if (!parsed.ok) return refuse(req, parsed.refusal);
    forwarded = new Request(req.url, { method: "POST", headers: req.headers, body: text });
  }
  return fetchRequestHandler({
    endpoint: ENDPOINT,
    req: forwarded,
    router: appRouter,
    // The console batches a page's few queries; a long batch would fan out into as many source
    // connections from one request (the client link is set to the same limit).
    maxBatchSize: MAX_BATCH,
    createContext: () => createContextInner({ principal, headers: req.headers }),
  });
}
