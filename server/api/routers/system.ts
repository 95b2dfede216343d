import { z } from "zod";
import { producerRedis } from "../../jobs/redis.ts";
import { liveWorkers } from "../../jobs/workers.ts";
import { createTRPCRouter, rest, viewerProcedure } from "../trpc.ts";

export const ZWorkerInfo = z.object({ id: z.string(), host: z.string(), pid: z.number(), started_at: z.string(), seen_at: z.string() });

export const systemRouter = createTRPCRouter({
  workers: viewerProcedure
    .meta(rest("GET", "/workers", "meta", "Worker processes seen in the last 15 seconds"))
    .output(z.object({ workers: z.array(ZWorkerInfo) }))
    .query(async () => ({ workers: await liveWorkers(await producerRedis()) })),
});
