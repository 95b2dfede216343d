// Workers' metrics reach the one scrape target through Redis: each worker writes its registry (as
// prom-client's JSON) under a key of its own with every heartbeat, expiring after three missed
// ones, so a worker that died stops being counted. The web process reads them all at scrape time.
import type { Redis } from "ioredis";
import type { MetricObjectWithValues, MetricValue } from "prom-client";
import { HEARTBEAT_MS } from "../jobs/workers.ts";
import { registry } from "./metrics.ts";

const PREFIX = "ecm:metrics:";
const TTL_MS = 3 * HEARTBEAT_MS;

export type PublishedMetrics = MetricObjectWithValues<MetricValue<string>>[];

export async function publishMetrics(redis: Redis, workerId: string) {
  await redis.set(`${PREFIX}${workerId}`, JSON.stringify(await registry.getMetricsAsJSON()), "PX", TTL_MS);
}

export async function unpublishMetrics(redis: Redis, workerId: string) {
  await redis.del(`${PREFIX}${workerId}`);
}

/** Every live worker's metrics, by worker id. */
export async function publishedMetrics(redis: Redis): Promise<Map<string, PublishedMetrics>> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", `${PREFIX}*`, "COUNT", 100);
    keys.push(...found);
    cursor = next;
  } while (cursor !== "0");
  const out = new Map<string, PublishedMetrics>();
  if (!keys.length) return out;
  const values = await redis.mget(...keys);
  keys.forEach((k, i) => {
    if (values[i]) out.set(k.slice(PREFIX.length), JSON.parse(values[i]!) as PublishedMetrics);
  });
  return out;
}
