import type { Prisma } from "../../generated/prisma/client.ts";
import { prisma } from "../db.ts";

export const userSelect = {
  id: true,
  email: true,
  name: true,
  role: true,
  banned: true,
  createdAt: true,
} satisfies Prisma.UserSelect;
export type UserRow = Prisma.UserGetPayload<{ select: typeof userSelect }>;

export function listUsers(): Promise<UserRow[]> {
  return prisma().user.findMany({ select: userSelect, orderBy: { createdAt: "asc" } });
}

/** Active admins, optionally not counting one user (is anyone left if this one goes?). */
export function countAdmins(exceptId?: string): Promise<number> {
  return prisma().user.count({ where: { role: "admin", banned: { not: true }, ...(exceptId ? { id: { not: exceptId } } : {}) } });
}

export function findUserByEmail(email: string) {
  return prisma().user.findUnique({ where: { email: email.toLowerCase() }, select: userSelect });
}

/** `within` runs in the change's transaction with the role before (the audit entry). */
export async function setUserRole(id: string, role: string, within?: (tx: Prisma.TransactionClient, before: string | null) => Promise<void>): Promise<UserRow | null> {
  return prisma().$transaction(async (tx) => {
    const found = await tx.user.findUnique({ where: { id }, select: { role: true } });
    if (!found) return null;
    const row = await tx.user.update({ where: { id }, data: { role }, select: userSelect });
    if (found.role !== role) await within?.(tx, found.role ?? null); // the same role again changes nothing
    return row;
  });
}

/** Disabling signs the user out everywhere: their sessions are deleted. */
export async function setUserDisabled(id: string, disabled: boolean, within?: (tx: Prisma.TransactionClient) => Promise<void>): Promise<UserRow | null> {
  return prisma().$transaction(async (tx) => {
    const found = await tx.user.findUnique({ where: { id }, select: { banned: true } });
    if (!found) return null;
    if (disabled) await tx.session.deleteMany({ where: { userId: id } });
    const row = await tx.user.update({ where: { id }, data: { banned: disabled }, select: userSelect });
    if ((found.banned === true) !== disabled) await within?.(tx);
    return row;
  });
}

export async function requirePasswordChange(email: string, required: boolean): Promise<void> {
  await prisma().user.update({ where: { email: email.toLowerCase() }, data: { mustChangePassword: required } });
}

/** After a password change: the flag is cleared and every session but `keepSessionId` ends. */
export async function passwordChanged(id: string, keepSessionId?: string): Promise<void> {
  await prisma().$transaction([
    prisma().user.update({ where: { id }, data: { mustChangePassword: false } }),
    prisma().session.deleteMany({ where: { userId: id, ...(keepSessionId ? { id: { not: keepSessionId } } : {}) } }),
  ]);
}
