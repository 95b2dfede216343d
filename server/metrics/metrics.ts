// The product's Prometheus metrics (prom-client), defined once. Every process (web, each worker)
// counts into its own registry; workers publish theirs through Redis (metrics/publish.ts) and the
// one scrape target, GET /api/metrics, adds them up with the web's and with what is read at scrape
// time from PostgreSQL and the queues (metrics/scrape.ts). Labels are source ids, entity names,
// kinds and categories: bounded by what operators configure, never by data.
import { Counter, Histogram, Registry } from "prom-client";

export const registry = new Registry();

const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** snapshot | stream | replay */
export type PipelineKind = "snapshot" | "stream" | "replay";

export const rowsRead = new Counter({
  name: "ecm_rows_read_total",
  help: "Source rows and changes read, by source, entity and pipeline",
  labelNames: ["source_id", "entity", "kind"] as const,
  registers: [registry],
});

export const contextsWritten = new Counter({
  name: "ecm_contexts_written_total",
  help: "Contexts written to the store (new, changed or tombstoned), by source, entity and pipeline",
  labelNames: ["source_id", "entity", "kind"] as const,
  registers: [registry],
});

export const deadLettered = new Counter({
  name: "ecm_dead_letters_total",
  help: "Records dead-lettered, by source, entity and category",
  labelNames: ["source_id", "entity", "category", "kind"] as const,
  registers: [registry],
});

export const batchSeconds = new Histogram({
  name: "ecm_batch_seconds",
  help: "Time to read and map one batch (a snapshot chunk, a stream batch) before it commits",
  labelNames: ["kind"] as const,
  buckets: DURATION_BUCKETS,
  registers: [registry],
});

export const commitSeconds = new Histogram({
  name: "ecm_commit_seconds",
  help: "Duration of one unit of work (contexts, dead letters and checkpoint or cursor in one transaction)",
  labelNames: ["kind"] as const,
  buckets: DURATION_BUCKETS,
  registers: [registry],
});

export const retries = new Counter({
  name: "ecm_retries_total",
  help: "Retries after an error, by pipeline and the error's category and origin",
  labelNames: ["kind", "category", "origin"] as const,
  registers: [registry],
});

export const jobSeconds = new Histogram({
  name: "ecm_job_seconds",
  help: "Duration of queue jobs, by queue, job and outcome",
  labelNames: ["queue", "job", "outcome"] as const,
  buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200],
  registers: [registry],
});

/** Metrics off (ECM_METRICS=off): for measuring their cost; every call above still works. */
export function metricsEnabled(): boolean {
  return process.env.ECM_METRICS !== "off"; // read before env() may be validated (module load)
}
