import { recordAfter } from "../../audit/trail.ts";
import { z } from "zod";
import { auth } from "../../auth/auth.ts";
import { ZRole } from "../../auth/roles.ts";
import { reserveAttempt } from "../../auth/sign-in-guard.ts";
import { AppError } from "../../errors/app-error.ts";
import { passwordChanged } from "../../store/users.ts";
import { createTRPCRouter, viewerProcedure } from "../trpc.ts";

export const meRouter = createTRPCRouter({
  get: viewerProcedure
    .output(z.object({ kind: z.enum(["user", "token"]), id: z.string(), name: z.string(), role: ZRole, must_change_password: z.boolean() }))
    .query(({ ctx }) => ({ kind: ctx.principal.kind, id: ctx.principal.id, name: ctx.principal.name, role: ctx.principal.role, must_change_password: !!ctx.principal.mustChangePassword })),
  /** A signed-in user changes their own password (required first for a generated one); other sessions are signed out. */
  changePassword: viewerProcedure
    .input(
      z
        .object({
          current_password: z.string().min(1, "type your current password").max(128),
          new_password: z.string().min(10, "at least 10 characters").max(128, "at most 128 characters"),
        })
        .strict(),
    )
    .output(z.object({ changed: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      if (ctx.principal.kind !== "user") throw new AppError("BAD_REQUEST", "API tokens have no password; sign in to the console to change yours");
      if (input.new_password === input.current_password) {
        throw AppError.invalid([{ path: "new_password", message: "choose a password different from the current one" }]);
      }
      // Guesses of the current password count against the account like failed sign-ins.
      const attempt = await reserveAttempt(ctx.principal.name);
      if (attempt && !attempt.allowed) throw new AppError("TOO_MANY_REQUESTS", `too many failed attempts for this account; try again in ${Math.ceil(attempt.retryAfter / 60)} minutes`);
      try {
        await auth().api.changePassword({ body: { currentPassword: input.current_password, newPassword: input.new_password, revokeOtherSessions: false }, headers: ctx.headers });
      } catch (e) {
        const message = (e as { body?: { message?: string } }).body?.message ?? (e as Error).message;
        throw AppError.invalid([{ path: /current/i.test(message) || /invalid password/i.test(message) ? "current_password" : "new_password", message }]);
      }
      // Every other session of this account ends; this one stays signed in.
      const current = await auth().api.getSession({ headers: ctx.headers });
      await passwordChanged(ctx.principal.id, current?.session.id);
      await recordAfter({ action: "user.password", target: { kind: "user", id: ctx.principal.id } });
      await attempt?.clear().catch(() => {});
      return { changed: true as const };
    }),
});
