// API tokens: only SHA-256 digests are stored. A token is shown once, when it is created.
import crypto from "node:crypto";
import type { Prisma } from "../../generated/prisma/client.ts";
import { prisma } from "../db.ts";
import { secretKey } from "../secrets/key.ts";

export const apiTokenSelect = {
  id: true,
  name: true,
  prefix: true,
  role: true,
  createdById: true,
  ownerEnvHash: true,
  createdBy: { select: { email: true } },
  lastUsedAt: true,
  revokedAt: true,
  createdAt: true,
} satisfies Prisma.ApiTokenSelect;
export type ApiTokenRow = Prisma.ApiTokenGetPayload<{ select: typeof apiTokenSelect }>;

export function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token).digest("hex");
}

/**
 * What an ECM_API_TOKEN-made token records of it: an HMAC under ECM_SECRET_KEY, never the value,
 * and not a plain hash a copy of the database could be searched against offline.
 */
export function envTokenDigest(value: string): string {
  return crypto.createHmac("sha256", secretKey()).update(`ecm-env-token:${value}`).digest("hex");
}

/** `within` runs in the creation's transaction (the audit entry; never the token itself). */
export async function createApiToken(data: { name: string; role: string; createdById: string | null; ownerEnvHash: string | null }, within?: (tx: Prisma.TransactionClient, row: ApiTokenRow) => Promise<void>) {
  const token = `ecm_${crypto.randomBytes(32).toString("base64url")}`;
  const row = await prisma().$transaction(async (tx) => {
    const created = await tx.apiToken.create({ data: { ...data, tokenHash: hashToken(token), prefix: token.slice(0, 10) }, select: apiTokenSelect });
    await within?.(tx, created);
    return created;
  });
  return { token, row };
}

/** A token not revoked, with its owner's current standing. */
export async function findActiveToken(token: string) {
  const row = await prisma().apiToken.findUnique({
    where: { tokenHash: hashToken(token) },
    select: { ...apiTokenSelect, createdBy: { select: { email: true, role: true, banned: true } } },
  });
  if (!row || row.revokedAt) return null;
  // Best effort; a missed update only makes "last used" slightly stale.
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    await prisma().apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => {});
  }
  return row;
}

export function listApiTokens() {
  return prisma().apiToken.findMany({ select: apiTokenSelect, orderBy: { createdAt: "desc" } });
}

/** Revokes an active token; null when there is no active token with this id. */
export async function revokeApiToken(id: string, within?: (tx: Prisma.TransactionClient, row: ApiTokenRow) => Promise<void>): Promise<ApiTokenRow | null> {
  return prisma().$transaction(async (tx) => {
    const result = await tx.apiToken.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
    if (!result.count) return null;
    const row = await tx.apiToken.findUniqueOrThrow({ where: { id }, select: apiTokenSelect });
    await within?.(tx, row);
    return row;
  });
}
