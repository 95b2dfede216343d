// Sign-in limits besides better-auth's per-address one (ECM_LOGIN_RATE_LIMIT a minute): failed
// sign-ins are also counted per account, so guessing one account's password from many addresses
// meets a limit too (ECM_LOGIN_ACCOUNT_LIMIT failures within 15 minutes, counted in Redis so every
// web process shares them). A correct password clears the count.
import crypto from "node:crypto";
import { env } from "../env.ts";
import { producerRedis } from "../jobs/redis.ts";
import { logger } from "../logger.ts";

const log = logger("auth");
export const ACCOUNT_WINDOW_SECONDS = 15 * 60;
const keyOf = (email: string) => `ecm:sign-in-failures:${crypto.createHash("sha256").update(email.trim().toLowerCase()).digest("hex")}`;

const tooMany = (seconds: number) =>
  new Response(
    JSON.stringify({ code: "TOO_MANY_REQUESTS", message: `too many failed sign-ins for this account; try again in ${Math.max(1, Math.ceil(seconds / 60))} minutes` }),
    { status: 429, headers: { "content-type": "application/json", "retry-after": String(Math.max(1, seconds)) } },
  );

/** Wraps better-auth's handler for email sign-in; other auth routes pass straight through. */
export async function guardedSignIn(req: Request, handler: (req: Request) => Promise<Response>): Promise<Response> {
  if (req.method !== "POST" || !new URL(req.url).pathname.endsWith("/sign-in/email")) return handler(req);
  const text = await req.text();
  if (text.length > 16_384) return new Response(JSON.stringify({ code: "PAYLOAD_TOO_LARGE", message: "sign-in body too large" }), { status: 413 });
  let email: unknown;
  try {
    email = (JSON.parse(text) as { email?: unknown }).email;
  } catch {
    email = undefined;
  }
  const forward = () => handler(new Request(req.url, { method: "POST", headers: req.headers, body: text }));
  if (typeof email !== "string" || !email) return forward();

  const key = keyOf(email);
  let redis;
  try {
    redis = await producerRedis();
    const failures = Number((await redis.get(key)) ?? 0);
    if (failures >= env().ECM_LOGIN_ACCOUNT_LIMIT) return tooMany(await redis.ttl(key));
  } catch (error) {
    // Without Redis the per-address limit (kept in the database) still applies.
    log.warn("per-account sign-in limit unavailable", { error });
    return forward();
  }
  const res = await forward();
  if (res.status === 401 || res.status === 403) {
    // The window starts at the first failure (EXPIRE … NX needs Redis 7; this works on any).
    const failures = await redis.incr(key).catch(() => 0);
    if (failures === 1) await redis.expire(key, ACCOUNT_WINDOW_SECONDS).catch(() => {});
  } else if (res.ok) {
    await redis.del(key).catch(() => {});
  }
  return res;
}
