import { z } from "zod";
import { entityAction, getCursor, putCursor, sourceStatus, streamAction, ZEntityAction, ZSourceStatus, ZStreamAction } from "../../streams/service.ts";
import { createTRPCRouter, editorProcedure, viewerProcedure } from "../trpc.ts";

const ZId = z.object({ id: z.uuid() });
const ZCursorOut = z.object({ cursor: z.string().nullable() });

export const streamsRouter = createTRPCRouter({
  /** The source's state (idle, snapshotting, streaming, retrying, paused, failed), cursor, lag and slot. */
  status: viewerProcedure.input(ZId).output(ZSourceStatus).query(({ input }) => sourceStatus(input.id)),
  /** start (with the spec's stream_changes fields), stop, or approve a pending schema change. */
  action: editorProcedure
    .input(ZId.extend({ request: ZStreamAction }))
    .output(z.object({ run_id: z.string().nullable() }))
    .mutation(({ input, ctx }) => streamAction(input.id, input.request, ctx.principal)),
  cursor: viewerProcedure.input(ZId).output(ZCursorOut).query(({ input }) => getCursor(input.id)),
  setCursor: editorProcedure
    .input(ZId.extend({ cursor: z.string() }))
    .output(ZCursorOut)
    .mutation(({ input }) => putCursor(input.id, input.cursor)),
  /** Pause, resume (re-snapshots what was skipped) or re-snapshot one entity while the rest streams. */
  entity: editorProcedure
    .input(ZId.extend({ entity: z.string().min(1) }).merge(ZEntityAction))
    .output(z.object({ run_id: z.string().nullable() }))
    .mutation(({ input, ctx }) => entityAction(input.id, input.entity, input.action, ctx.principal)),
});
