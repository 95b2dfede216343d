import { auditedSql } from "../../audit/trail.ts";
import { z } from "zod";
import { AppError } from "../../errors/app-error.ts";
import { decodeCursor, encodeCursor } from "../../pagination.ts";
import { listAlerts, resolveAlert } from "../../store/alerts.ts";
import { createTRPCRouter, editorProcedure, rest, viewerProcedure } from "../trpc.ts";

export const ZAlert = z.object({
  id: z.string(),
  source_id: z.string().nullable(),
  run_id: z.string().nullable(),
  category: z.string(),
  message: z.string(),
  hint: z.string().nullable(),
  status: z.enum(["open", "resolved"]),
  delivery_attempts: z.number(),
  delivered_at: z.string().nullable(),
  delivery_error: z.string().nullable(),
  created_at: z.string(),
  resolved_at: z.string().nullable(),
});

export const alertsRouter = createTRPCRouter({
  list: viewerProcedure
    .meta(rest("GET", "/alerts", "alerts", "Alerts (CONFIGURATION and FATAL), newest first"))
    .input(
      z.object({
        status: z.enum(["open", "resolved"]).optional(),
        source_id: z.uuid().optional(),
        limit: z.number().int().min(1).max(200).default(50),
        cursor: z.string().optional(),
      }),
    )
    .output(z.object({ alerts: z.array(ZAlert), next_cursor: z.string().nullable() }))
    .query(async ({ input }) => {
      const before = input.cursor ? (decodeCursor(input.cursor) as [string, string]) : null;
      const rows = await listAlerts({ status: input.status, sourceId: input.source_id, limit: input.limit + 1, before });
      const page = rows.slice(0, input.limit);
      const last = page[page.length - 1];
      return { alerts: page, next_cursor: rows.length > input.limit && last ? encodeCursor([last.created_at, last.id]) : null };
    }),
  resolve: editorProcedure
    .meta(rest("POST", "/alerts/{id}/resolve", "alerts", "Mark an alert resolved"))
    .input(z.object({ id: z.uuid() }))
    .output(ZAlert)
    .mutation(async ({ input }) => {
      const row = await auditedSql(
        async (client) => (await resolveAlert(input.id, client)) ?? Promise.reject(AppError.notFound(`alert ${input.id}`)),
        (r) => (r.changed ? { action: "alert.resolve", source_id: r.source_id, target: { kind: "alert", id: r.id }, details: { category: r.category, message: r.message } } : null),
      );
      const { changed: _, ...alert } = row;
      return alert;
    }),
});
