// Worker presence: each worker process refreshes its entry every few seconds; the console shows
// the workers seen recently, so an operator can tell at a glance whether anything runs jobs.
import os from "node:os";
import type { Redis } from "ioredis";

const KEY = "ecm:workers";
export const HEARTBEAT_MS = 5000;
const STALE_MS = 3 * HEARTBEAT_MS;

export type WorkerInfo = { id: string; host: string; pid: number; started_at: string; seen_at: string };

export function workerIdentity(): Omit<WorkerInfo, "seen_at"> {
  return { id: `${os.hostname()}:${process.pid}`, host: os.hostname(), pid: process.pid, started_at: new Date().toISOString() };
}

export async function recordHeartbeat(redis: Redis, me: Omit<WorkerInfo, "seen_at">) {
  await redis.hset(KEY, me.id, JSON.stringify({ ...me, seen_at: new Date().toISOString() }));
}

export async function removeWorker(redis: Redis, id: string) {
  await redis.hdel(KEY, id);
}

/** Workers seen in the last few heartbeats; entries of workers that died are pruned. */
export async function liveWorkers(redis: Redis): Promise<WorkerInfo[]> {
  const all = await redis.hgetall(KEY);
  const live: WorkerInfo[] = [];
  for (const [id, raw] of Object.entries(all)) {
    const info = JSON.parse(raw) as WorkerInfo;
    if (Date.now() - Date.parse(info.seen_at) < STALE_MS) live.push(info);
    else await redis.hdel(KEY, id);
  }
  return live.sort((a, b) => a.id.localeCompare(b.id));
}
