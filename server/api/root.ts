import { connectorsRouter } from "./routers/connectors.ts";
import { sourcesRouter } from "./routers/sources.ts";
import { tokensRouter, usersRouter } from "./routers/admin.ts";
import { meRouter } from "./routers/me.ts";
import { systemRouter } from "./routers/system.ts";
import { createCallerFactory, createTRPCRouter } from "./trpc.ts";

export const appRouter = createTRPCRouter({
  me: meRouter,
  system: systemRouter,
  connectors: connectorsRouter,
  sources: sourcesRouter,
  users: usersRouter,
  tokens: tokensRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
