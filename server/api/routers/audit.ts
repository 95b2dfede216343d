import { z } from "zod";
import { listAudit, ZAuditEntry, ZAuditFilter } from "../../audit/service.ts";
import { adminProcedure, createTRPCRouter, rest } from "../trpc.ts";

export const auditRouter = createTRPCRouter({
  /** The audit trail, newest first (admins). Entries are append-only: no route changes or removes one. */
  list: adminProcedure
    .meta(rest("GET", "/audit", "audit", "The audit trail, newest first: who changed what, when, from where (filters: actor, source_id, action, since, until; cursor-paged)"))
    .input(ZAuditFilter)
    .output(z.object({ entries: z.array(ZAuditEntry), next_cursor: z.string().nullable() }))
    .query(({ input }) => listAudit(input)),
});
