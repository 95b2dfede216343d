import { z } from "zod";
import { ZRole } from "../../auth/roles.ts";
import * as users from "../../auth/users.ts";
import * as tokens from "../../auth/tokens.ts";
import { adminProcedure, createTRPCRouter, rest } from "../trpc.ts";

export const usersRouter = createTRPCRouter({
  list: adminProcedure.meta(rest("GET", "/users", "admin", "List console users (admin)")).output(z.object({ users: z.array(users.ZUser) })).query(() => users.listUsers()),
  create: adminProcedure.meta(rest("POST", "/users", "admin", "Create a console user (admin)", 201)).input(users.ZCreateUserInput).output(users.ZUser).mutation(({ input }) => users.createUser(input)),
  setRole: adminProcedure
    .input(z.object({ id: z.string(), role: ZRole }))
    .output(users.ZUser)
    .mutation(({ input }) => users.setRole(input.id, input.role)),
  setDisabled: adminProcedure
    .input(z.object({ id: z.string(), disabled: z.boolean() }))
    .output(users.ZUser)
    .mutation(({ input }) => users.setDisabled(input.id, input.disabled)),
});

export const tokensRouter = createTRPCRouter({
  list: adminProcedure.meta(rest("GET", "/tokens", "admin", "List API tokens (admin; never the token values)")).output(z.object({ tokens: z.array(tokens.ZApiToken) })).query(() => tokens.listTokens()),
  create: adminProcedure
    .meta(rest("POST", "/tokens", "admin", "Create an API token (admin); the token is in this response only", 201))
    .input(tokens.ZCreateTokenInput)
    .output(tokens.ZCreatedToken)
    .mutation(({ input, ctx }) => tokens.createToken(input, ctx.principal)),
  revoke: adminProcedure
    .meta(rest("POST", "/tokens/{id}/revoke", "admin", "Revoke an API token (admin)"))
    .input(z.object({ id: z.uuid() }))
    .output(tokens.ZApiToken)
    .mutation(({ input }) => tokens.revokeToken(input.id)),
});
