// Roles, lowest to highest. Each role can do everything the roles below it can.
//   viewer: reads everything    editor: sources, mappings, runs, replay    admin: users, tokens, all
import { z } from "zod";

export const ROLES = ["viewer", "editor", "admin"] as const;
export type Role = (typeof ROLES)[number];
export const ZRole = z.enum(ROLES);

export function hasRole(actual: string | null | undefined, needed: Role): boolean {
  const rank = ROLES.indexOf(actual as Role);
  return rank >= 0 && rank >= ROLES.indexOf(needed);
}

/** The lower of two roles (a token acts with at most its owner's). */
export function lowerRole(a: Role, b: Role): Role {
  return ROLES.indexOf(a) < ROLES.indexOf(b) ? a : b;
}

/** Who is calling: a console user (session cookie) or an API token (Authorization: Bearer). */
export type Principal = {
  kind: "user" | "token";
  id: string;
  name: string;
  role: Role;
  /** A console user still on a generated password: may only read who they are and change it. */
  mustChangePassword?: boolean;
  /**
   * Whom a token acts for: the user who owns it, or ECM_API_TOKEN (the operator); null for a token
   * without an owner. Tokens it makes belong to the same owner.
   */
  owner?: TokenOwner | null;
};

export type TokenOwner = { kind: "user"; id: string; name: string } | { kind: "env" };
