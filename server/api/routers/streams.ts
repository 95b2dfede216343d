import { z } from "zod";
import { ZCursor } from "../../streams/cursor.ts";
import { entityAction, getCursor, putCursor, sourceStatus, streamAction, ZEntityAction, ZSourceStatus, ZStreamAction, ZStreamRequest } from "../../streams/service.ts";
import { parseRequest } from "../../errors/app-error.ts";
import { createTRPCRouter, editorProcedure, rest, viewerProcedure } from "../trpc.ts";

const ZId = z.object({ id: z.uuid() });
const ZCursorOut = z.object({ cursor: z.string().nullable() });

export const streamsRouter = createTRPCRouter({
  /** The source's state (idle, snapshotting, streaming, retrying, paused, failed), cursor, lag and slot. */
  status: viewerProcedure
    .meta(rest("GET", "/sources/{id}/status", "streams", "State, cursor, lag (bytes, seconds), last checkpoint, error; stream and slot detail"))
    .input(ZId).output(ZSourceStatus).query(({ input }) => sourceStatus(input.id)),
  /** start (with the spec's stream_changes fields), stop, or approve a pending schema change. */
  action: editorProcedure
    .meta(rest("POST", "/sources/{id}/stream", "streams", 'Start ({"action":"start"}, with the spec\'s stream_changes fields cursor, batch_size, include_operations) or stop the change stream; approve_schema resumes after a schema change', 202))
    .input(ZStreamRequest.extend({ id: z.uuid() }))
    .output(z.object({ run_id: z.string().nullable() }))
    .mutation(({ input: { id, ...request }, ctx }) => streamAction(id, parseRequest(ZStreamAction, request), ctx.principal)),
  cursor: viewerProcedure
    .meta(rest("GET", "/sources/{id}/cursor", "streams", "The durable stream cursor, in the source connector's format (its capabilities' cursor_format)"))
    .input(ZId).output(ZCursorOut).query(({ input }) => getCursor(input.id)),
  setCursor: editorProcedure
    .meta(rest("PUT", "/sources/{id}/cursor", "streams", "Move the cursor while the stream is stopped; checked against the change capture (not before what it still holds, not past the log's end)"))
    .input(ZId.extend({ cursor: ZCursor }))
    .output(ZCursorOut)
    .mutation(({ input }) => putCursor(input.id, input.cursor)),
  /** Pause, resume (re-snapshots what was skipped) or re-snapshot one entity while the rest streams. */
  entity: editorProcedure
    .meta(rest("POST", "/sources/{id}/stream/entities/{entity}", "streams", "Pause an entity's changes, resume it (re-snapshots what was skipped), or re-snapshot it, while the rest streams", 202))
    .input(ZId.extend({ entity: z.string().min(1) }).merge(ZEntityAction))
    .output(z.object({ run_id: z.string().nullable() }))
    .mutation(({ input, ctx }) => entityAction(input.id, input.entity, input.action, ctx.principal)),
});
