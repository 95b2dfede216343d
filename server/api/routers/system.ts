import { z } from "zod";
import { producerRedis } from "../../jobs/redis.ts";
import { liveWorkers } from "../../jobs/workers.ts";
import { createTRPCRouter, viewerProcedure } from "../trpc.ts";

export const ZWorkerInfo = z.object({ id: z.string(), host: z.string(), pid: z.number(), started_at: z.string(), seen_at: z.string() });

export const systemRouter = createTRPCRouter({
  workers: viewerProcedure
    .output(z.object({ workers: z.array(ZWorkerInfo) }))
    .query(async () => ({ workers: await liveWorkers(await producerRedis()) })),
});
