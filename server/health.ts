// Liveness of the product's own dependencies, for GET /api/v1/health.
import { prisma } from "./db.ts";
import { producerRedis } from "./jobs/redis.ts";

async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One answer shared for a second: anonymous callers (load balancers, and anyone who can reach
 * /api/v1/health or /api/ready) must not turn into a query and a ping each on a pool of ten.
 * Concurrent callers wait for the same check.
 */
export function sharedFor<T>(ms: number, fn: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | null = null;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= ms) {
      const value = fn();
      last = { at: now, value };
      // A failed check is not kept: the next caller checks again.
      value.catch(() => (last = null));
    }
    return last.value;
  };
}

export const productHealth = sharedFor(1000, checkHealth);

async function checkHealth() {
  const [database, queue] = await Promise.allSettled([
    within(3000, prisma().$queryRaw`SELECT 1`),
    within(3000, producerRedis().then((r) => r.ping())),
  ]);
  const checks = {
    web: "ok",
    database: database.status === "fulfilled" ? "ok" : `unavailable: ${(database.reason as Error).message}`,
    queue: queue.status === "fulfilled" ? "ok" : `unavailable: ${(queue.reason as Error).message}`,
  };
  const ok = database.status === "fulfilled" && queue.status === "fulfilled";
  return { status: ok ? ("ok" as const) : ("unavailable" as const), checks };
}
