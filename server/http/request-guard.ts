// What every API request passes before a procedure sees it (the public /api/v1 and the console's
// /api/trpc alike): who is calling is known before the body is read, the body is read only up to
// ECM_MAX_BODY_BYTES, a request that relies on a session cookie must be JSON from the console's
// own origin (cross-site request forgery), and the JSON holds no prototype key and stays within
// the nesting limits.
import { env, trustedOrigins } from "../env.ts";
import { inspectJson, type JsonProblem } from "../json/safe.ts";

export type Refusal = { status: number; code: string; message: string; path?: string };

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** A request authenticated by its cookie (no Authorization header) that changes something. */
export function usesCookieForChange(req: Request): boolean {
  return !SAFE_METHODS.has(req.method) && !req.headers.get("authorization") && req.headers.has("cookie");
}

const mediaType = (req: Request) => (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();

/**
 * Cross-site request forgery: SameSite=Lax does not stop a page on another port of the same host
 * or a sibling subdomain, and a form can post text/plain. A cookie-authenticated change must be
 * application/json (which a form cannot send without a CORS preflight) from a trusted origin.
 * Bearer-token requests carry no ambient credential and are not affected.
 */
export function csrfRefusal(req: Request): Refusal | null {
  if (!usesCookieForChange(req)) return null;
  if (mediaType(req) !== "application/json") {
    return { status: 415, code: "UNSUPPORTED_MEDIA_TYPE", message: "a request signed in by cookie must send Content-Type: application/json" };
  }
  const origin = req.headers.get("origin");
  if (origin ? !trustedOrigins().includes(origin) : req.headers.get("sec-fetch-site") !== "same-origin") {
    return {
      status: 403,
      code: "FORBIDDEN",
      message: `requests signed in by cookie must come from the console's origin (${trustedOrigins()[0]}); scripts send Authorization: Bearer <token>`,
    };
  }
  return null;
}

export class BodyTooLarge extends Error {}

export const bodyLimit = () => env().ECM_MAX_BODY_BYTES;

/** The body as text, read no further than `limit` bytes (a larger one throws BodyTooLarge). */
export async function readBodyText(req: Request, limit = bodyLimit()): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > limit) throw new BodyTooLarge();
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export const tooLarge = (): Refusal => ({
  status: 413,
  code: "PAYLOAD_TOO_LARGE",
  message: `request body larger than ${bodyLimit()} bytes (ECM_MAX_BODY_BYTES)`,
});

/** Parses JSON text and checks it against the product's JSON rules. */
export function parseJsonBody(text: string): { ok: true; value: unknown } | { ok: false; refusal: Refusal } {
  let value: unknown;
  try {
    value = text ? JSON.parse(text) : {};
  } catch {
    return { ok: false, refusal: { status: 400, code: "BAD_REQUEST", message: "request body is not valid JSON" } };
  }
  const problem: JsonProblem | null = inspectJson(value);
  if (problem) return { ok: false, refusal: { status: 400, code: "BAD_REQUEST", message: `${problem.path}: ${problem.message}`, path: problem.path } };
  return { ok: true, value };
}
