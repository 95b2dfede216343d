// Resolves who is calling from request headers: an API token (Authorization: Bearer) or a console
// session cookie. Roles are then checked by the procedure tiers in server/api/trpc.ts.
import crypto from "node:crypto";
import { env } from "../env.ts";
import { envTokenDigest, findActiveToken } from "../store/api-tokens.ts";
import { auth } from "./auth.ts";
import { lowerRole, ROLES, type Principal, type Role } from "./roles.ts";

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
  if (envToken && sameSecret(token, envToken)) return { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin", owner: { kind: "env" } };
  const row = await findActiveToken(token);
  if (!row) return null;
  let role = asRole(row.role);
  if (!role) return null;
  // A token never outlives its owner's access: it stops with a disabled owner and is capped at the
  // owner's current role (an admin demoted to viewer leaves viewer tokens).
  if (row.createdById) {
    const ownerRole = row.createdBy && !row.createdBy.banned ? asRole(row.createdBy.role) : null;
    if (!ownerRole) return null;
    role = lowerRole(role, ownerRole);
    return { kind: "token", id: row.id, name: row.name, role, owner: { kind: "user", id: row.createdById, name: row.createdBy!.email } };
  }
  // Made with ECM_API_TOKEN: valid while it still has the value that made it.
  if (row.ownerEnvHash) {
    if (!envToken || !sameSecret(row.ownerEnvHash, envTokenDigest(envToken))) return null;
    return { kind: "token", id: row.id, name: row.name, role, owner: { kind: "env" } };
  }
  // No owner recorded (made before owners were): a viewer until an admin re-issues it.
  return { kind: "token", id: row.id, name: row.name, role: lowerRole(role, "viewer"), owner: null };
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
  return {
    kind: "user",
    id: session.user.id,
    name: session.user.email,
    role,
    owner: { kind: "user", id: session.user.id, name: session.user.email },
    ...(session.user.mustChangePassword ? { mustChangePassword: true } : {}),
  };
}
