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

/** The metrics of these workers (the live ones, from the heartbeat hash), by worker id; expired ones are absent. */
export async function publishedMetrics(redis: Redis, workerIds: string[]): Promise<Map<string, PublishedMetrics>> {
  const out = new Map<string, PublishedMetrics>();
  if (!workerIds.length) return out;
  const values = await redis.mget(...workerIds.map((id) => `${PREFIX}${id}`));
  workerIds.forEach((id, i) => {
    if (values[i]) out.set(id, JSON.parse(values[i]!) as PublishedMetrics);
  });
  return out;
}

/**
 * A process's metrics with `worker` added to every series: each worker's counters stay series of
 * their own (a worker that dies ends its series instead of lowering a sum, which Prometheus would
 * read as a counter reset); sum them in PromQL.
 */
export function labelled(metrics: PublishedMetrics, worker: string): PublishedMetrics {
  return metrics.map((m) => ({ ...m, values: m.values.map((v) => ({ ...v, labels: { ...v.labels, worker } })) }));
}
