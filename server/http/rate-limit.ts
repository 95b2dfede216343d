// Fixed-window limits per caller, shared by every web process through Redis (as the sign-in
// guard's). The caller's id is hashed into the key: nothing a caller sends becomes a Redis key.
import crypto from "node:crypto";
import type { Principal } from "../auth/roles.ts";
import { AppError } from "../errors/app-error.ts";
import { producerRedis } from "../jobs/redis.ts";
import { logger } from "../logger.ts";

const log = logger("rate-limit");

/**
 * Counts one use of `what` by `who` in the current window of `windowSeconds`; beyond `limit` it
 * throws TOO_MANY_REQUESTS with the seconds until the window ends. Without Redis it lets the call
 * through (and says so): the limit protects, it must not take the console down with the queue.
 */
export async function limitPerCaller(what: string, who: Principal, limit: number, windowSeconds = 60) {
  const key = `ecm:limit:${what}:${crypto.createHash("sha256").update(`${who.kind}:${who.id}`).digest("hex")}`;
  let used: number;
  let ttl: number;
  try {
    const redis = await producerRedis();
    used = await redis.incr(key);
    if (used === 1) await redis.expire(key, windowSeconds);
    ttl = used > limit ? await redis.ttl(key) : 0;
  } catch (error) {
    log.warn({ what, error }, "rate limit unavailable (Redis); allowing the call");
    return;
  }
  if (used > limit) {
    const retryAfter = Math.max(1, ttl);
    throw new AppError("TOO_MANY_REQUESTS", `more than ${limit} ${what} a minute; try again in ${retryAfter} s`, { retryAfter });
  }
}
