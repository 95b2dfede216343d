// What reaches better-auth's HTTP routes (/api/auth/*). Only what the console uses is served:
// email sign-in, sign-out and the session; better-auth's other routes (its admin API, password
// and e-mail changes) would bypass the product's own checks (last admin, the forced password
// change, role rules), so they answer 404 and those changes go through tRPC. Bodies are bounded
// and JSON only (a form post would not be counted below). Failed sign-ins are counted per
// account as well as per address (ECM_LOGIN_ACCOUNT_LIMIT within 15 minutes, in Redis so every
// web process shares them): guessing one account's password from many addresses meets a limit too.
import crypto from "node:crypto";
import { env } from "../env.ts";
import { BodyTooLarge, readBodyText } from "../http/request-guard.ts";
import { countInWindow } from "../http/rate-limit.ts";
import { producerRedis } from "../jobs/redis.ts";
import { logger } from "../logger.ts";

const log = logger("auth");
const ACCOUNT_WINDOW_SECONDS = 15 * 60;
const AUTH_BODY_LIMIT = 16 * 1024;
const SERVED = new Set(["POST /sign-in/email", "POST /sign-out", "GET /get-session"]);

const reply = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ code, message }), { status, headers: { "content-type": "application/json", "cache-control": "no-store", ...headers } });

const accountKey = (email: string) => `ecm:sign-in-failures:${crypto.createHash("sha256").update(email.trim().toLowerCase()).digest("hex")}`;

/**
 * Reserves one attempt for the account before the password is checked (so parallel guesses are
 * all counted) and returns whether it is within the limit, with the seconds until the window ends.
 */
export async function reserveAttempt(email: string): Promise<{ allowed: boolean; retryAfter: number; clear: () => Promise<void> } | null> {
  const key = accountKey(email);
  try {
    // The window starts at the first attempt.
    const { count, ttl } = await countInWindow(key, ACCOUNT_WINDOW_SECONDS);
    const allowed = count <= env().ECM_LOGIN_ACCOUNT_LIMIT;
    const redis = await producerRedis();
    return { allowed, retryAfter: allowed ? 0 : Math.max(1, ttl), clear: () => redis.del(key).then(() => {}) };
  } catch (error) {
    // Without Redis the per-address limit (kept in the database) still applies.
    log.warn({ error }, "per-account sign-in limit unavailable");
    return null;
  }
}

const tooManyAttempts = (seconds: number) =>
  reply(429, "TOO_MANY_REQUESTS", `too many failed sign-ins for this account; try again in ${Math.max(1, Math.ceil(seconds / 60))} minutes`, { "retry-after": String(seconds) });

export async function guardedAuth(req: Request, handler: (req: Request) => Promise<Response>): Promise<Response> {
  const route = `${req.method} ${new URL(req.url).pathname.replace(/^\/api\/auth/, "")}`;
  if (!SERVED.has(route)) return reply(404, "NOT_FOUND", "not served; users, roles and passwords are managed in the console (tRPC)");
  if (req.method !== "POST") return handler(req);

  let text: string;
  try {
    text = await readBodyText(req, AUTH_BODY_LIMIT);
  } catch (e) {
    if (e instanceof BodyTooLarge) return reply(413, "PAYLOAD_TOO_LARGE", `sign-in bodies are at most ${AUTH_BODY_LIMIT} bytes`);
    throw e;
  }
  if ((req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase() !== "application/json") {
    return reply(415, "UNSUPPORTED_MEDIA_TYPE", "send Content-Type: application/json");
  }
  const forward = () => handler(new Request(req.url, { method: "POST", headers: req.headers, body: text }));
  if (route === "POST /sign-out") return forward();

  let email: unknown;
  try {
    email = (JSON.parse(text) as { email?: unknown }).email;
  } catch {
    return reply(400, "BAD_REQUEST", "request body is not valid JSON");
  }
  if (typeof email !== "string" || !email) return forward(); // better-auth answers the missing field
  const attempt = await reserveAttempt(email);
  if (attempt && !attempt.allowed) return tooManyAttempts(attempt.retryAfter);
  const res = await forward();
  if (res.ok) await attempt?.clear().catch(() => {});
  return res;
}
