import { z } from "zod";
import { ZRole } from "../../auth/roles.ts";
import { createTRPCRouter, viewerProcedure } from "../trpc.ts";

export const meRouter = createTRPCRouter({
  get: viewerProcedure
    .output(z.object({ kind: z.enum(["user", "token"]), id: z.string(), name: z.string(), role: ZRole }))
    .query(({ ctx }) => ctx.principal),
});
