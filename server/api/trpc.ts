// The one tRPC init: context, transformer, error shape, and the procedure tiers that check roles
// on the server for every procedure (public < viewer < editor < admin).
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import type { OpenApiMeta, OpenApiMethod } from "trpc-to-openapi";
import { ZodError } from "zod";
import { actingAs, actorOf } from "../audit/trail.ts";
import { principalFromHeaders } from "../auth/principal.ts";
import { hasRole, type Principal, type Role } from "../auth/roles.ts";
import { AppError, fieldIssues, type ErrorCategory, type FieldIssue } from "../errors/app-error.ts";
import { sourceErrorAnswer } from "../errors/classify.ts";
import { inspectJson } from "../json/safe.ts";
import { logger } from "../logger.ts";

const log = logger("api");

export type Context = { principal: Principal | null; headers: Headers };

/** Context without a request: tests and server code call procedures through createCaller with it. */
export function createContextInner(opts: { principal: Principal | null; headers?: Headers }): Context {
  return { principal: opts.principal, headers: opts.headers ?? new Headers() };
}

export async function createContext(opts: { req: Request }): Promise<Context> {
  return createContextInner({ principal: await principalFromHeaders(opts.req.headers), headers: opts.req.headers });
}

/** Field-path issues from a zod error or an AppError, for the client and the public API. */
export function issuesOf(error: unknown): FieldIssue[] | undefined {
  if (error instanceof ZodError) return fieldIssues(error);
  if (error instanceof AppError) return error.issues;
  return undefined;
}

export function categoryOf(error: unknown): ErrorCategory | undefined {
  if (error instanceof AppError) return error.category;
  if (error instanceof ZodError) return "CONFIGURATION";
  return undefined;
}

/**
 * A procedure's place in the public API (/api/v1): its method, path and documentation. The REST
 * routes (server/http/rest.ts) and the OpenAPI document (server/http/openapi.ts) are both made
 * from these and the procedure's own input and output schemas: nothing is declared twice.
 */
export type ApiMeta = OpenApiMeta<{ successStatus?: 201 | 202 | 204 }>;

/** `.meta(rest("GET", "/sources/{id}", "sources", "Get a source"))`; path parameters are input fields. */
export function rest(method: OpenApiMethod, path: `/${string}`, tag: string, summary: string, successStatus?: ApiMeta["successStatus"]): ApiMeta {
  return { openapi: { method, path, tags: [tag], summary }, ...(successStatus ? { successStatus } : {}) };
}

const t = initTRPC.context<Context>().meta<ApiMeta>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    return { ...shape, data: { ...shape.data, issues: issuesOf(error.cause), category: categoryOf(error.cause) } };
  },
});

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;

/** AppErrors become TRPCErrors with the same code; anything else is a 500 whose detail stays in the log. */
const errorMapping = t.middleware(async ({ next, path }) => {
  const result = await next();
  if (!result.ok) {
    const answer = sourceErrorAnswer(result.error.cause);
    if (answer) log.warn({ path, category: answer.category, error: result.error.cause }, "the source refused a request");
    const cause = answer ?? result.error.cause;
    if (cause instanceof AppError) {
      result.error = new TRPCError({ code: cause.code, message: cause.message, cause });
    } else if (result.error.code === "INTERNAL_SERVER_ERROR") {
      log.error({ path, error: cause ?? result.error }, "procedure failed");
      result.error = new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "internal error; see the server log" });
    }
  }
  return result;
});

/**
 * Every procedure's raw input, whatever the transport (tRPC, the public API, server callers):
 * refused before validation when it holds a prototype key anywhere, or nests or grows past the
 * JSON limits, with the path of the first offending key.
 */
const inputGuard = t.middleware(async ({ next, getRawInput }) => {
  const problem = inspectJson(await getRawInput());
  if (problem) throw AppError.invalid([problem], "Refused input");
  return next();
});

export const publicProcedure = t.procedure.use(errorMapping).use(inputGuard);

/** What an account on a generated password may still call. */
const WHILE_PASSWORD_MUST_CHANGE = new Set(["me.get", "me.changePassword"]);

function requireRole(role: Role) {
  return publicProcedure.use(({ ctx, next, path }) => {
    if (!ctx.principal) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in or send Authorization: Bearer <token>" });
    if (ctx.principal.mustChangePassword && !WHILE_PASSWORD_MUST_CHANGE.has(path)) {
      throw new TRPCError({ code: "FORBIDDEN", message: "this account still has its generated password: change it first (the console asks at sign-in)" });
    }
    if (!hasRole(ctx.principal.role, role)) {
      throw new TRPCError({ code: "FORBIDDEN", message: `this needs the ${role} role; you are ${ctx.principal.role}` });
    }
    // Every change this request makes is recorded under its principal (server/audit/trail.ts).
    const principal = ctx.principal;
    return actingAs(actorOf(principal, ctx.headers), () => next({ ctx: { ...ctx, principal } }));
  });
}

export const viewerProcedure = requireRole("viewer");
export const editorProcedure = requireRole("editor");
export const adminProcedure = requireRole("admin");
