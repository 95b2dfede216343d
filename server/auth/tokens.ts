// API tokens for automation. The token is returned once, at creation; only its hash is kept.
import { recordIn } from "../audit/trail.ts";
import { z } from "zod";
import { AppError } from "../errors/app-error.ts";
import { logger } from "../logger.ts";
import * as store from "../store/api-tokens.ts";
import { envTokenDigest } from "../store/api-tokens.ts";
import { env } from "../env.ts";
import { hasRole, ZRole, type Principal } from "./roles.ts";

const log = logger("tokens");

export const ZApiToken = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  role: ZRole,
  owner: z.string().nullable().describe("Whom the token acts for: its owner's email, or ECM_API_TOKEN; null: no owner (acts as a viewer until an admin re-issues it)"),
  last_used_at: z.iso.datetime().nullable(),
  revoked_at: z.iso.datetime().nullable(),
  created_at: z.iso.datetime(),
});
export const ZCreateTokenInput = z.object({ name: z.string().trim().min(1).max(100), role: ZRole }).strict();
export const ZCreatedToken = z.object({ token: z.string(), api_token: ZApiToken });

function toDto(row: store.ApiTokenRow): z.infer<typeof ZApiToken> {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    role: ZRole.catch("viewer").parse(row.role),
    owner: row.createdBy?.email ?? (row.ownerEnvHash ? "ECM_API_TOKEN" : null),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
  };
}

export async function listTokens() {
  return { tokens: (await store.listApiTokens()).map(toDto) };
}

/**
 * A token belongs to the owner of whoever makes it: a console user, the user who owns the token
 * used, or ECM_API_TOKEN. A token without an owner cannot make one, and no token is made with a
 * role above its maker's.
 */
export async function createToken(input: z.output<typeof ZCreateTokenInput>, by: Principal) {
  const owner = by.kind === "user" ? { kind: "user" as const, id: by.id } : by.id === "env" ? { kind: "env" as const } : by.owner;
  if (!owner) throw new AppError("FORBIDDEN", "this token has no owner, so it cannot make tokens: an admin must re-issue it (Settings → API tokens)");
  if (!hasRole(by.role, input.role)) throw AppError.invalid([{ path: "role", message: `cannot be above the role of the caller (${by.role})` }]);
  const envToken = env().ECM_API_TOKEN;
  if (owner.kind === "env" && !envToken) throw new AppError("FORBIDDEN", "ECM_API_TOKEN is not set");
  const { token, row } = await store.createApiToken({
    name: input.name,
    role: input.role,
    createdById: owner.kind === "user" ? owner.id : null,
    ownerEnvHash: owner.kind === "env" ? envTokenDigest(envToken!) : null,
  }, (tx, created) => recordIn(tx, { action: "token.create", target: { kind: "token", id: created.id }, details: { name: created.name, role: created.role, prefix: created.prefix, owner: owner.kind === "user" ? owner.id : "ECM_API_TOKEN" } }));
  log.info({ token_id: row.id, role: row.role, by: by.name, owner: owner.kind === "user" ? owner.id : "ECM_API_TOKEN" }, "api token created");
  return { token, api_token: toDto(row) };
}

export async function revokeToken(id: string) {
  const row = await store.revokeApiToken(id, (tx, revoked) => recordIn(tx, { action: "token.revoke", target: { kind: "token", id }, details: { name: revoked.name, prefix: revoked.prefix } }));
  if (!row) throw AppError.notFound(`active api token ${id}`);
  return toDto(row);
}
