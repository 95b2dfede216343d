// GET /api/metrics: the whole installation in one scrape. The web process's own counters, every
// live worker's (published through Redis, summed across workers), and what is read now from
// PostgreSQL and the queues: stream lag and retained WAL, snapshot progress, queue depth, workers
// alive and the streams each owns. Readiness (GET /api/ready) is read from the same state.
import { AggregatorRegistry, Gauge, Registry } from "prom-client";
import { principalFromHeaders, sameSecret } from "../auth/principal.ts";
import { hasRole } from "../auth/roles.ts";
import { pgPool } from "../db.ts";
import { productHealth, sharedFor } from "../health.ts";
import { queue } from "../jobs/queues.ts";
import { QUEUES } from "../jobs/contracts.ts";
import { producerRedis } from "../jobs/redis.ts";
import { liveWorkers } from "../jobs/workers.ts";
import { logger } from "../logger.ts";
import { registry } from "./metrics.ts";
import { labelled, publishedMetrics } from "./publish.ts";
import { env } from "../env.ts";

const log = logger("metrics");

type StreamState = { source_id: string; enabled: boolean; status: string; owner: string | null; leased: boolean; slot_state: Record<string, number | null> };

async function streamStates(): Promise<StreamState[]> {
  const { rows } = await pgPool().query<StreamState>(
    `SELECT source_id::text, enabled, status, lease_owner AS owner, coalesce(lease_expires_at > now(), false) AS leased, slot_state FROM streams`,
  );
  return rows;
}

/** A stream that should run: enabled, and not waiting for an operator (paused, or failed). */
const shouldRun = (s: StreamState) => s.enabled && s.status !== "paused" && s.status !== "failed";

/** Streams that should run but have no live owner. */
export function streamsDown(states: StreamState[]): string[] {
  return states.filter((s) => shouldRun(s) && !s.leased).map((s) => s.source_id);
}

async function stateRegistry(): Promise<Registry> {
  const live = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [live] });
  const redis = await producerRedis();
  const [workers, streams, snapshots, counts, openLetters] = await Promise.all([
    liveWorkers(redis),
    streamStates(),
    pgPool().query<{ source_id: string; run_id: string; done: string; total: string | null }>(
      "SELECT source_id::text, id::text AS run_id, progress_done::text AS done, progress_total::text AS total FROM runs WHERE kind = 'snapshot' AND status = 'running'",
    ),
    Promise.all(Object.values(QUEUES).map(async (name) => [name, await (await queue(name)).getJobCounts("waiting", "active", "delayed", "failed", "completed", "prioritized")] as const)),
    pgPool().query<{ source_id: string; n: number }>("SELECT source_id::text, count(*)::int AS n FROM dead_letters WHERE status = 'open' GROUP BY source_id"),
  ]);

  gauge("ecm_workers_alive", "Worker processes seen in the last three heartbeats").set(workers.length);
  const owned = gauge("ecm_stream_owner", "1 for the worker that owns a source's stream (holds its lease)", ["source_id", "worker"]);
  const running = gauge("ecm_stream_running", "1 while a stream that should run has a live owner, 0 while it should run and has none", ["source_id"]);
  const lagBytes = gauge("ecm_stream_lag_bytes", "Change log written at the source since the stream's confirmed position", ["source_id"]);
  const lagSeconds = gauge("ecm_stream_lag_seconds", "Seconds since the last applied change, while the stream is behind", ["source_id"]);
  const retained = gauge("ecm_capture_retained_bytes", "Change log the source retains for the capture (PostgreSQL: WAL held by the slot)", ["source_id"]);
  for (const s of streams) {
    if (s.leased && s.owner) owned.set({ source_id: s.source_id, worker: s.owner }, 1);
    if (shouldRun(s)) running.set({ source_id: s.source_id }, s.leased ? 1 : 0);
    const slot = s.slot_state ?? {};
    if (typeof slot.lag_bytes === "number") lagBytes.set({ source_id: s.source_id }, slot.lag_bytes);
    if (typeof slot.lag_seconds === "number") lagSeconds.set({ source_id: s.source_id }, slot.lag_seconds);
    if (typeof slot.retained_bytes === "number") retained.set({ source_id: s.source_id }, slot.retained_bytes);
  }
  const done = gauge("ecm_snapshot_rows_done", "Rows a running snapshot has committed", ["source_id", "run_id"]);
  const total = gauge("ecm_snapshot_rows_total", "Rows a running snapshot expects (the tables' estimates)", ["source_id", "run_id"]);
  for (const r of snapshots.rows) {
    done.set({ source_id: r.source_id, run_id: r.run_id }, Number(r.done));
    if (r.total !== null) total.set({ source_id: r.source_id, run_id: r.run_id }, Number(r.total));
  }
  const jobs = gauge("ecm_queue_jobs", "Jobs in each queue, by state", ["queue", "state"]);
  for (const [name, byState] of counts) for (const [state, n] of Object.entries(byState)) jobs.set({ queue: name, state }, n);
  const letters = gauge("ecm_dead_letters_open", "Open dead letters, by source", ["source_id"]);
  for (const r of openLetters.rows) letters.set({ source_id: r.source_id }, r.n);
  return live;
}

export async function metricsText(): Promise<string> {
  const redis = await producerRedis();
  const workers = await publishedMetrics(redis, (await liveWorkers(redis)).map((w) => w.id));
  // One series per worker (and the web's own); prom-client's aggregator only merges the families.
  const counted = AggregatorRegistry.aggregate([labelled(await registry.getMetricsAsJSON(), "web"), ...[...workers].map(([id, m]) => labelled(m, id))]);
  const now = await stateRegistry();
  return `${await counted.metrics()}\n${await now.metrics()}`;
}

/** Who may read the installation's state: ECM_METRICS_TOKEN, or any principal past its first password change. */
async function mayObserve(req: Request): Promise<boolean> {
  const bearer = /^bearer\s+(\S+)\s*$/i.exec(req.headers.get("authorization") ?? "")?.[1] ?? "";
  const metricsToken = env().ECM_METRICS_TOKEN;
  if (bearer && metricsToken && sameSecret(bearer, metricsToken)) return true;
  const principal = await principalFromHeaders(req.headers).catch(() => null);
  return !!principal && !principal.mustChangePassword && hasRole(principal.role, "viewer");
}

/** The scrape: a bearer token (any role), a signed-in user, or ECM_METRICS_TOKEN. */
export async function handleMetricsRequest(req: Request): Promise<Response> {
  if (!(await mayObserve(req))) {
    return new Response("send Authorization: Bearer <API token or ECM_METRICS_TOKEN>\n", { status: 401, headers: { "content-type": "text/plain", "www-authenticate": "Bearer" } });
  }
  try {
    return new Response(await metricsText(), { status: 200, headers: { "content-type": registry.contentType, "cache-control": "no-store" } });
  } catch (error) {
    log.error({ error }, "metrics scrape failed");
    return new Response("metrics unavailable; see the server log\n", { status: 503, headers: { "content-type": "text/plain" } });
  }
}

/**
 * GET /api/ready: 200 when the database and the queue answer and every stream that should run
 * has a live owner; 503 otherwise. Which part is not ready only for a caller with a token. It
 * speaks for the installation (alert on it, gate a deployment on it), not for one web process: a
 * load balancer's probe of a web process wants /api/v1/health.
 */
/** Streams that should run but have no owner, checked at most once a second (see sharedFor). */
const ownerlessStreams = sharedFor(1000, () => streamStates().then(streamsDown, () => null));

export async function handleReadyRequest(req: Request): Promise<Response> {
  const health = await productHealth();
  const down = health.status === "ok" ? await ownerlessStreams() : [];
  const ready = health.status === "ok" && down !== null && down.length === 0;
  const detailed = await mayObserve(req);
  const body = detailed ? { status: ready ? "ready" : "not_ready", checks: health.checks, streams_without_owner: down } : { status: ready ? "ready" : "not_ready" };
  return new Response(JSON.stringify(body), { status: ready ? 200 : 503, headers: { "content-type": "application/json", "cache-control": "no-store" } });
}
