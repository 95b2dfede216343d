// Fixed-window limits per caller, shared by every web process through Redis (as the sign-in
// guard's). The caller's id is hashed into the key: nothing a caller sends becomes a Redis key.
import crypto from "node:crypto";
import type { Principal } from "../auth/roles.ts";
import { AppError } from "../errors/app-error.ts";
import { producerRedis } from "../jobs/redis.ts";
import { logger } from "../logger.ts";

const log = logger("rate-limit");

/**
 * Counts one use in a fixed window of `windowSeconds` starting at the first use: the count, and
 * the seconds the window has left. The window and the count are set in one round trip, so a key
 * is never left without its expiry. Throws when Redis does not answer (the caller decides).
 */
export async function countInWindow(key: string, windowSeconds: number): Promise<{ count: number; ttl: number }> {
  const redis = await producerRedis();
  const replies = await redis.multi().set(key, "0", "EX", windowSeconds, "NX").incr(key).ttl(key).exec();
  return { count: Number(replies?.[1]?.[1]), ttl: Number(replies?.[2]?.[1]) };
}

/** Whom a limit counts: a token's owner (many tokens of one person share one budget), else the caller. */
export function callerKey(who: Principal): string {
  if (who.owner?.kind === "user") return `user:${who.owner.id}`;
  if (who.owner?.kind === "env") return "env";
  return `${who.kind}:${who.id}`;
}

/**
 * Counts one use of `what` by `who` in the current window of `windowSeconds`; beyond `limit` it
 * throws TOO_MANY_REQUESTS with the seconds until the window ends. Without Redis it lets the call
 * through (and says so): the limit protects, it must not take the console down with the queue.
 */
export async function limitPerCaller(what: string, who: Principal, limit: number, windowSeconds = 60) {
  const key = `ecm:limit:${what}:${crypto.createHash("sha256").update(callerKey(who)).digest("hex")}`;
  let used: number;
  let ttl: number;
  try {
    ({ count: used, ttl } = await countInWindow(key, windowSeconds));
  } catch (error) {
    log.warn({ what, error }, "rate limit unavailable (Redis); allowing the call");
    return;
  }
  if (used > limit) {
    const retryAfter = Math.max(1, ttl);
    throw new AppError("TOO_MANY_REQUESTS", `more than ${limit} ${what} a minute; try again in ${retryAfter} s`, { retryAfter });
  }
}
