// Console users. Public sign-up is off; admins create users here (and start-up creates the first).
import crypto from "node:crypto";
import { z } from "zod";
import { recordAfter, recordIn } from "../audit/trail.ts";
import { AppError } from "../errors/app-error.ts";
import { logger } from "../logger.ts";
import * as store from "../store/users.ts";
import { auth } from "./auth.ts";
import { ZRole, type Role } from "./roles.ts";

const log = logger("users");

export const ZUser = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: ZRole,
  disabled: z.boolean(),
  created_at: z.iso.datetime(),
});
export type TUser = z.infer<typeof ZUser>;

export const ZCreateUserInput = z
  .object({
    email: z.email("must be an email address").toLowerCase(),
    name: z.string().trim().min(1).max(100),
    password: z.string().min(10, "must be at least 10 characters").max(128),
    role: ZRole.default("viewer"),
  })
  .strict();

function toDto(row: store.UserRow): TUser {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: ZRole.catch("viewer").parse(row.role),
    disabled: row.banned === true,
    created_at: row.createdAt.toISOString(),
  };
}

export async function listUsers() {
  return { users: (await store.listUsers()).map(toDto) };
}

export async function createUser(input: z.output<typeof ZCreateUserInput>): Promise<TUser> {
  if (await store.findUserByEmail(input.email)) {
    throw new AppError("CONFLICT", `a user with email ${input.email} already exists`, {
      issues: [{ path: "email", message: "already registered" }],
    });
  }
  // Called without request headers, better-auth's admin createUser runs as the server itself;
  // the role check already happened in our admin procedure.
  await auth().api.createUser({ body: { email: input.email, password: input.password, name: input.name, role: input.role } });
  const row = await store.findUserByEmail(input.email);
  log.info({ email: input.email, role: input.role }, "user created");
  // The sign-in library wrote the user: recorded once it did (never the password).
  await recordAfter({ action: "user.create", target: { kind: "user", id: row!.id }, details: { email: input.email, name: input.name, role: input.role } });
  return toDto(row!);
}

async function assertAnotherAdminRemains(id: string) {
  if ((await store.countAdmins(id)) === 0) throw new AppError("CONFLICT", "this is the last active admin; make someone else admin first");
}

export async function setRole(id: string, role: Role): Promise<TUser> {
  if (role !== "admin") await assertAnotherAdminRemains(id);
  const row = await store.setUserRole(id, role, (tx, before) => recordIn(tx, { action: "user.role", target: { kind: "user", id }, details: { before, after: role } }));
  if (!row) throw AppError.notFound(`user ${id}`);
  return toDto(row);
}

export async function setDisabled(id: string, disabled: boolean): Promise<TUser> {
  if (disabled) await assertAnotherAdminRemains(id);
  const row = await store.setUserDisabled(id, disabled, (tx) => recordIn(tx, { action: disabled ? "user.disable" : "user.enable", target: { kind: "user", id } }));
  if (!row) throw AppError.notFound(`user ${id}`);
  return toDto(row);
}

/**
 * Creates the first admin when no admin exists. Credentials come from ECM_ADMIN_EMAIL /
 * ECM_ADMIN_PASSWORD, or are generated; the password is returned so start-up prints it once.
 */
export async function ensureFirstAdmin(opts: { email?: string; password?: string }) {
  if ((await store.countAdmins()) > 0) return null;
  const email = (opts.email ?? "admin@ecm.local").toLowerCase();
  const password = opts.password ?? crypto.randomBytes(12).toString("base64url");
  const existing = await store.findUserByEmail(email);
  if (existing) {
    await store.setUserRole(existing.id, "admin");
    return { email, password: null };
  }
  await createUser({ email, password, name: "Administrator", role: "admin" });
  // A generated password has been printed to a terminal (and maybe a log): it must be replaced at
  // the first sign-in. A password the operator chose (ECM_ADMIN_PASSWORD) is theirs to keep.
  if (opts.password === undefined) await store.requirePasswordChange(email, true);
  return { email, password };
}
