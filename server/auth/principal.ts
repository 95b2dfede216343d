// Resolves who is calling from request headers: an API token (Authorization: Bearer) or a console
// session cookie. Roles are then checked by the procedure tiers in server/api/trpc.ts.
import crypto from "node:crypto";
import { env } from "../env.ts";
import { findActiveToken } from "../store/api-tokens.ts";
import { auth } from "./auth.ts";
import { ROLES, type Principal, type Role } from "./roles.ts";

/** Compares two secrets in constant time (their digests, so lengths do not show). */
export function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => crypto.createHash("sha256").update(s).digest();
  return crypto.timingSafeEqual(digest(a), digest(b));
}

function asRole(value: unknown): Role | null {
  return ROLES.includes(value as Role) ? (value as Role) : null;
}

export async function principalFromToken(token: string): Promise<Principal | null> {
  const envToken = env().ECM_API_TOKEN;
  if (envToken && sameSecret(token, envToken)) return { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" };
  const row = await findActiveToken(token);
  if (!row) return null;
  // A token never outlives its creator's access: it stops with a disabled creator and is capped
  // at the creator's current role (an admin demoted to viewer leaves viewer tokens).
  let role = asRole(row.role);
  if (row.createdById) {
    const creatorRole = row.createdBy && !row.createdBy.banned ? asRole(row.createdBy.role) : null;
    role = role && creatorRole ? (ROLES.indexOf(creatorRole) < ROLES.indexOf(role) ? creatorRole : role) : null;
  }
  return role ? { kind: "token", id: row.id, name: row.name, role } : null;
}

export async function principalFromHeaders(headers: Headers): Promise<Principal | null> {
  const authorization = headers.get("authorization");
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match ? principalFromToken(match[1]!) : null;
  }
  const session = await auth().api.getSession({ headers });
  if (!session || session.user.banned) return null;
  const role = asRole(session.user.role);
  if (!role) return null;
  return { kind: "user", id: session.user.id, name: session.user.email, role, ...(session.user.mustChangePassword ? { mustChangePassword: true } : {}) };
}
