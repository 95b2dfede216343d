// Redis connections as BullMQ advises: producers (web) fail fast so a request never hangs on a
// down Redis; workers wait and retry forever (maxRetriesPerRequest: null, required by BullMQ).
import { Redis, type RedisOptions } from "ioredis";
import { env } from "../env.ts";

export function redisOptions(kind: "producer" | "worker"): RedisOptions {
  return kind === "producer"
    ? { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 3000, lazyConnect: false }
    : { maxRetriesPerRequest: null, enableReadyCheck: true };
}

export function createRedis(kind: "producer" | "worker", url = env().REDIS_URL): Redis {
  const redis = new Redis(url, redisOptions(kind));
  // Without a listener, ioredis prints every reconnect error as an unhandled event.
  redis.on("error", () => {});
  return redis;
}

const globalForRedis = globalThis as unknown as { ecmProducerRedis?: Redis };

/**
 * The web process's producer connection, once it is ready. Producers fail fast (no offline
 * queue), so a command sent while the connection is still being made would fail: wait for it.
 */
export async function producerRedis(timeoutMs = 3000): Promise<Redis> {
  globalForRedis.ecmProducerRedis ??= createRedis("producer");
  const redis = globalForRedis.ecmProducerRedis;
  if (redis.status === "ready") return redis;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off("ready", onReady);
      reject(new Error(`Redis not ready within ${timeoutMs} ms (status ${redis.status})`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once("ready", onReady);
  });
  return redis;
}
