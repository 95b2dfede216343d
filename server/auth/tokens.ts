// API tokens for automation. The token is returned once, at creation; only its hash is kept.
import { z } from "zod";
import { AppError } from "../errors/app-error.ts";
import { logger } from "../logger.ts";
import * as store from "../store/api-tokens.ts";
import { ZRole, type Principal } from "./roles.ts";

const log = logger("tokens");

export const ZApiToken = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  role: ZRole,
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
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
  };
}

export async function listTokens() {
  return { tokens: (await store.listApiTokens()).map(toDto) };
}

export async function createToken(input: z.output<typeof ZCreateTokenInput>, by: Principal) {
  const { token, row } = await store.createApiToken({
    name: input.name,
    role: input.role,
    createdById: by.kind === "user" ? by.id : null,
  });
  log.info({ token_id: row.id, role: row.role, by: by.name }, "api token created");
  return { token, api_token: toDto(row) };
}

export async function revokeToken(id: string) {
  const row = await store.revokeApiToken(id);
  if (!row) throw AppError.notFound(`active api token ${id}`);
  return toDto(row);
}
