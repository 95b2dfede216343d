// A viewer sees everything and changes nothing, checked exhaustively: every tRPC procedure and
// every public API route is walked, so a procedure or route added later without the right role
// fails here. Role checks run before input validation, so an empty input is enough to tell
// "refused for the role" (403 / FORBIDDEN) from "let through" (anything else).
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { beforeAll, describe, expect, it } from "vitest";
import { appRouter, createCaller } from "../../server/api/root.ts";
import { createContextInner } from "../../server/api/trpc.ts";
import { createToken } from "../../server/auth/tokens.ts";
import { restRoutes } from "../../server/http/rest.ts";
import { resetMetadata } from "../support/db.ts";
import { api } from "../support/http.ts";

// Mutations a viewer may call because they only read: running the health checks, previewing a
// (draft) mapping, and the spec's read operations (discovery, snapshot pages, change pages that
// never confirm).
// Changing one's own password is every signed-in user's.
const READ_ONLY_MUTATIONS = new Set(["sources.health", "mappings.preview", "sources.operation", "me.changePassword"]);
const READ_ONLY_POSTS = new Set(["/sources/{id}/health", "/sources/{id}/preview", "/sources/{id}/operations"]);
// Reads that are for admins only: who the users are, which API tokens exist, and the audit trail.
const ADMIN_READS = new Set(["users.list", "tokens.list", "audit.list"]);
const ADMIN_GETS = new Set(["/users", "/tokens", "/audit"]);

const viewerPrincipal = { kind: "token" as const, id: "viewer-token", name: "viewer", role: "viewer" as const };
type Procedure = { _def: { type: "query" | "mutation" | "subscription" } };
const procedures = Object.entries((appRouter._def as unknown as { procedures: Record<string, Procedure> }).procedures);

async function callAsViewer(path: string, input: unknown): Promise<string> {
  let fn: any = createCaller(createContextInner({ principal: viewerPrincipal }));
  for (const part of path.split(".")) fn = fn[part];
  try {
    await fn(input);
    return "OK";
  } catch (e) {
    return e instanceof TRPCError ? e.code : `unexpected ${String(e)}`;
  }
}

let viewerToken: string;
beforeAll(async () => {
  await resetMetadata();
  const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
  viewerToken = (await createToken({ name: "viewer", role: "viewer" }, system)).token;
});

describe("a viewer", () => {
  it("is refused every tRPC mutation that changes something", async () => {
    const mutations = procedures.filter(([, p]) => p._def.type === "mutation").map(([path]) => path);
    expect(mutations.length).toBeGreaterThan(15);
    for (const path of mutations) {
      const outcome = await callAsViewer(path, {});
      if (READ_ONLY_MUTATIONS.has(path)) expect(outcome, path).not.toBe("FORBIDDEN");
      else expect(outcome, path).toBe("FORBIDDEN");
    }
  });

  it("may call every tRPC query except the admin-only lists of users, tokens and audit entries", async () => {
    const queries = procedures.filter(([, p]) => p._def.type === "query").map(([path]) => path);
    expect(queries.length).toBeGreaterThan(15);
    for (const path of queries) {
      const outcome = await callAsViewer(path, undefined);
      if (ADMIN_READS.has(path)) expect(outcome, path).toBe("FORBIDDEN");
      else expect(["OK", "BAD_REQUEST", "NOT_FOUND"], path).toContain(outcome);
    }
  });

  it("gets 403 from every public API route that changes something, and reads all the others", async () => {
    for (const route of restRoutes()) {
      const path = route.path.replace(/\{[a-z_]+\}/g, () => randomUUID());
      const res = await api(route.method, path, { token: viewerToken, ...(route.method === "GET" ? {} : { body: {} }) });
      const name = `${route.method} ${route.path}`;
      const mayRead = route.method === "GET" ? !ADMIN_GETS.has(route.path) : READ_ONLY_POSTS.has(route.path);
      if (mayRead) expect(res.status, name).not.toBe(403);
      else expect(res.status, name).toBe(403);
    }
  });
});
