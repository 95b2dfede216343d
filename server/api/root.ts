import { connectorsRouter } from "./routers/connectors.ts";
import { sourcesRouter } from "./routers/sources.ts";
import { tokensRouter, usersRouter } from "./routers/admin.ts";
import { meRouter } from "./routers/me.ts";
import { systemRouter } from "./routers/system.ts";
import { mappingsRouter } from "./routers/mappings.ts";
import { contextsRouter } from "./routers/contexts.ts";
import { runsRouter } from "./routers/runs.ts";
import { deadLettersRouter } from "./routers/dead-letters.ts";
import { streamsRouter } from "./routers/streams.ts";
import { alertsRouter } from "./routers/alerts.ts";
import { schedulesRouter } from "./routers/schedules.ts";
import { auditRouter } from "./routers/audit.ts";
import { createCallerFactory, createTRPCRouter } from "./trpc.ts";

export const appRouter = createTRPCRouter({
  me: meRouter,
  system: systemRouter,
  connectors: connectorsRouter,
  sources: sourcesRouter,
  mappings: mappingsRouter,
  contexts: contextsRouter,
  runs: runsRouter,
  deadLetters: deadLettersRouter,
  streams: streamsRouter,
  alerts: alertsRouter,
  schedules: schedulesRouter,
  audit: auditRouter,
  users: usersRouter,
  tokens: tokensRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
