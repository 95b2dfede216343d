// Change streams as the API and console see them: start/stop, status with lag, cursor view and
// reset (checked against the slot), per-entity pause/resume/re-snapshot, schema-change approval.
// The worker does the streaming (worker/processors/stream.ts); this module only changes the
// desired state in PostgreSQL and queues the stream's one job.
import { auditedSql, recordAfter } from "../audit/trail.ts";
import { z } from "zod";
import type { Principal } from "../auth/roles.ts";
import { AppError } from "../errors/app-error.ts";
import { queueStream } from "../jobs/queues.ts";
import { requireCapability } from "../connectors/types.ts";
import { capturesChanges } from "../connectors/registry.ts";
import { ZChangeOperation } from "../connectors/schemas.ts";
import { cursorCodecOf, ZCursor } from "./cursor.ts";
import { getMappings } from "../mapping/service.ts";
import { withInteractiveConnector } from "../sources/connectivity.ts";
import { getSource, listSources } from "../sources/service.ts";
import { ZListInput, ZSource, type TSource } from "../sources/schemas.ts";
import { createRun, finishRun } from "../store/runs.ts";
import { ensureStream, getStream, getStreams, leaseHeld, updateStream, type SlotState, type StreamRow } from "../store/streams.ts";
import { queueSnapshot } from "../runs/service.ts";
import { pgPool } from "../db.ts";
import { bareObject } from "../json/safe.ts";

/** What `start` takes: the spec's connector.stream_changes fields, accepted as written. */
const START_FIELDS = {
  operation: z.literal("connector.stream_changes").optional().describe("start: accepted as the spec writes it"),
  cursor: ZCursor.optional().describe("start: a cursor in the connector's format (cursor_format) to stream from (default: the stored cursor)"),
  batch_size: z.number().int().min(1).max(10_000).optional().describe("start: changes per batch"),
  include_operations: z.array(ZChangeOperation).min(1).optional().describe("start: which operations (default all three)"),
  schema_policy: z.enum(["continue", "pause"]).optional().describe("start: on a source column change, continue or pause until approved"),
};

export const ZStreamAction = z.discriminatedUnion("action", [
  z.object({ action: z.literal("start"), ...START_FIELDS }).strict(),
  z.object({ action: z.literal("stop") }).strict(),
  z.object({ action: z.literal("approve_schema") }).strict(),
]);
export type TStreamAction = z.infer<typeof ZStreamAction>;

/**
 * A stream action as one object (the public API's body and the procedure's input): every field,
 * each described; which an action takes is checked by ZStreamAction after it.
 */
export const ZStreamRequest = z.object({ action: z.enum(ZStreamAction.options.map((o) => o.shape.action.value) as [TStreamAction["action"], ...TStreamAction["action"][]]), ...START_FIELDS }).strict();

export const ZEntityAction = z.object({ action: z.enum(["pause", "resume", "resnapshot"]) }).strict();

export const ZSourceStatus = z.object({
  state: z.enum(["idle", "snapshotting", "streaming", "retrying", "paused", "failed"]),
  cursor: z.string().nullable(),
  lag_bytes: z.number().nullable(),
  lag_seconds: z.number().nullable(),
  last_checkpoint_at: z.string().nullable(),
  error: z.object({ message: z.string(), category: z.string().nullable() }).optional(),
  stream: z.object({
    enabled: z.boolean(),
    status: z.string(),
    run_id: z.string().nullable(),
    batch_size: z.number(),
    include_operations: z.array(z.string()),
    retry: z.object({ attempt: z.number(), next_at: z.string().nullable() }).nullable(),
    owner: z.string().nullable(),
    paused_entities: z.array(z.string()),
    schema_policy: z.string(),
    pending_schema: z.object({ entity: z.string(), added: z.array(z.string()), removed: z.array(z.string()) }).nullable(),
    capture: z
      .object({
        name: z.string().nullable().describe("The capture on the source (PostgreSQL: replication slot ecm_slot_…)"),
        exists: z.boolean(),
        active: z.boolean().nullable(),
        state: z.string().nullable().describe("The source's word for the capture's state (PostgreSQL: wal_status)"),
        position: z.string().nullable().describe("What the source was last told is durable (a cursor of the connector's format)"),
        retained_bytes: z.number().nullable().describe("Change log the source keeps for the capture"),
        lag_bytes: z.number().nullable(),
        lag_seconds: z.number().nullable(),
        observed_at: z.string(),
      })
      .nullable()
      .describe("The change capture as the stream's owner last observed it"),
    slot: z
      .object({
        exists: z.boolean(),
        active: z.boolean().nullable(),
        wal_status: z.string().nullable(),
        confirmed_flush_lsn: z.string().nullable(),
        retained_bytes: z.number().nullable(),
        lag_bytes: z.number().nullable(),
        lag_seconds: z.number().nullable(),
        observed_at: z.string(),
      })
      .nullable()
      .describe("`capture` under PostgreSQL's names (kept for existing clients)"),
    last_commit_at: z.string().nullable(),
  }),
});
export type TSourceStatus = z.infer<typeof ZSourceStatus>;

/**
 * One source's state as users see it: a snapshot in progress wins, then the stream's own state
 * while it is enabled (or stopped by a failure or a pause), else the source's.
 */
function overview(source: TSource, s: StreamRow | null) {
  const slot = s && "observed_at" in s.slot_state ? (s.slot_state as SlotState) : null;
  const streamState = s ? { streaming: "streaming", starting: "streaming", retrying: "retrying", paused: "paused", failed: "failed", stopped: null }[s.status] : null;
  const streamCounts = s && (s.enabled || s.status === "failed" || s.status === "paused");
  const state = (source.status === "snapshotting" ? "snapshotting" : streamCounts ? (streamState ?? source.status) : source.status) as TSourceStatus["state"];
  return { state, slot, lag_bytes: slot?.lag_bytes ?? null, lag_seconds: slot?.lag_seconds ?? null, last_checkpoint_at: s?.cursor_updated_at ?? null };
}

export const ZSourceOverview = ZSource.extend({
  state: ZSourceStatus.shape.state,
  lag_bytes: z.number().nullable(),
  lag_seconds: z.number().nullable(),
  last_checkpoint_at: z.string().nullable(),
});
export const ZSourceOverviewList = z.object({ sources: z.array(ZSourceOverview), next_cursor: z.string().nullable() });

/** A page of sources, each with its live state, lag and last checkpoint (two queries per page). */
export async function listSourceOverviews(input: z.output<typeof ZListInput>): Promise<z.infer<typeof ZSourceOverviewList>> {
  const page = await listSources(input);
  const streams = new Map((await getStreams(page.sources.map((s) => s.id))).map((s) => [s.source_id, s]));
  return {
    ...page,
    sources: page.sources.map((source) => {
      const { slot: _slot, ...live } = overview(source, streams.get(source.id) ?? null);
      return { ...source, ...live };
    }),
  };
}

/** The observed capture under neutral names, and the same under PostgreSQL's (`slot`, kept for existing clients). */
function captureViews(observed: SlotState | null): Pick<TSourceStatus["stream"], "capture" | "slot"> {
  if (!observed) return { capture: null, slot: null };
  const { exists, active, retained_bytes, lag_bytes, lag_seconds, observed_at } = observed;
  const state = observed.state ?? observed.wal_status ?? null;
  const position = observed.position ?? observed.confirmed_flush_lsn ?? null;
  return {
    capture: { name: observed.name ?? null, exists, active, state, position, retained_bytes, lag_bytes, lag_seconds, observed_at },
    slot: { exists, active, wal_status: state, confirmed_flush_lsn: position, retained_bytes, lag_bytes, lag_seconds, observed_at },
  };
}

export async function sourceStatus(sourceId: string): Promise<TSourceStatus> {
  const source = await getSource(sourceId);
  const s = (await getStream(sourceId)) ?? (await ensureStream(sourceId));
  const { state, slot, lag_bytes, lag_seconds, last_checkpoint_at } = overview(source, s);
  const error = s.error && s.status !== "streaming" && s.status !== "stopped" ? { message: s.error, category: s.error_category } : source.last_error && state === "failed" ? { message: source.last_error, category: null } : undefined;
  return {
    state,
    cursor: s.cursor,
    lag_bytes,
    lag_seconds,
    last_checkpoint_at,
    ...(error ? { error } : {}),
    stream: {
      enabled: s.enabled,
      status: s.status,
      run_id: s.run_id,
      batch_size: s.batch_size,
      include_operations: s.include_operations,
      retry: s.status === "retrying" ? { attempt: s.retry_attempt, next_at: s.next_retry_at } : null,
      owner: leaseHeld(s) ? s.lease_owner : null,
      paused_entities: s.paused_entities,
      schema_policy: s.schema_policy,
      pending_schema: s.pending_schema,
      ...captureViews(slot),
      last_commit_at: s.last_commit_at,
    },
  };
}

async function requireStreamable(sourceId: string) {
  const source = await getSource(sourceId);
  if (!capturesChanges(source.config)) {
    throw AppError.invalid([{ path: "config.options.change_tracking", message: 'is "snapshot": set it to "cdc" to stream changes' }], "This source does not capture changes");
  }
  const { mappings } = await getMappings(sourceId);
  if (!mappings.length) throw new AppError("BAD_REQUEST", "save a mapping before starting the stream: it decides which tables are published", { category: "CONFIGURATION" });
}

/**
 * A stream action. Recorded in the audit trail only when it changed something: a stop and a
 * schema approval in their own transaction; a start once its job is queued (with the cursor
 * before and after, when it moves it).
 */
export async function streamAction(sourceId: string, input: TStreamAction, by: Principal): Promise<{ run_id: string | null }> {
  switch (input.action) {
    case "start":
      return startStream(sourceId, input, by);
    case "stop": {
      await getSource(sourceId);
      const s = await ensureStream(sourceId);
      if (!s.enabled) return { run_id: s.run_id }; // stopped already: nothing changes
      await auditedSql(
        (client) => updateStream(sourceId, { enabled: false }, client),
        () => ({ action: "stream.stop", source_id: sourceId, target: { kind: "stream", id: sourceId }, details: { run_id: s.run_id } }),
      );
      // Never picked up (no worker ran it yet): nothing else will close the run.
      if (!leaseHeld(s) && s.run_id && s.status === "starting") {
        await finishRun(s.run_id, { status: "cancelled" }).catch(() => {});
        await updateStream(sourceId, { status: "stopped" });
      }
      return { run_id: s.run_id };
    }
    case "approve_schema": {
      const s = await ensureStream(sourceId);
      if (!s.pending_schema) throw new AppError("CONFLICT", "there is no schema change waiting for approval");
      // The approved columns become the known ones: the stream resumes at the change that paused it.
      const known = Object.assign(bareObject<string[]>(), s.known_schemas);
      const pending = s.pending_schema;
      if (pending.columns) known[pending.entity] = pending.columns;
      else delete known[pending.entity]; // paused before the columns were kept: the stream re-reads them
      await auditedSql(
        (client) => updateStream(sourceId, { known_schemas: JSON.stringify(known), pending_schema: null, error: null, error_category: null }, client),
        () => ({ action: "stream.approve_schema", source_id: sourceId, target: { kind: "entity", id: pending.entity }, details: { columns: pending.columns ?? null } }),
      );
      return startStream(sourceId, { action: "start" }, by);
    }
  }
}

async function startStream(sourceId: string, input: Extract<TStreamAction, { action: "start" }>, by: Principal) {
  await requireStreamable(sourceId);
  const s = await ensureStream(sourceId);
  if (s.enabled && (leaseHeld(s) || s.status === "starting")) {
    if (input.cursor) throw new AppError("CONFLICT", "the stream is running: stop it before moving its cursor");
    return { run_id: s.run_id };
  }
  const cursor = input.cursor ? await checkCursor(sourceId, input.cursor, "cursor") : null;
  const run = await createRun({ sourceId, kind: "stream", request: { batch_size: input.batch_size, include_operations: input.include_operations, cursor: input.cursor }, createdBy: by.name });
  const cursorBefore = s.cursor;
  await updateStream(sourceId, {
    enabled: true,
    status: "starting",
    run_id: run.id,
    error: null,
    error_category: null,
    retry_attempt: 0,
    next_retry_at: null,
    ...(cursor ? { cursor, cursor_updated_at: new Date() } : {}),
    ...(input.batch_size ? { batch_size: input.batch_size } : {}),
    ...(input.include_operations ? { include_operations: input.include_operations } : {}),
    ...(input.schema_policy ? { schema_policy: input.schema_policy } : {}),
  });
  // If Redis does not answer, the supervisor queues it once it does: the desired state is saved.
  await queueStream(sourceId).catch(() => {});
  const { action: _, ...request } = input;
  await recordAfter({ action: "stream.start", source_id: sourceId, target: { kind: "stream", id: sourceId }, details: { run_id: run.id, ...request, ...(cursor ? { cursor: { before: cursorBefore, after: cursor } } : {}) } });
  return { run_id: run.id };
}

/**
 * A cursor is usable when the capture still holds it: not before what the source was last told
 * is durable, not past the end of its change log. Returns it normalised.
 */
async function checkCursor(sourceId: string, cursor: string, field: string): Promise<string> {
  const codec = await cursorCodecOf(sourceId);
  const wanted = codec.parse(cursor, field);
  const capture = await withInteractiveConnector(sourceId, (c) => requireCapability(c, "captureStatus", "capture changes").captureStatus());
  if (!capture.exists) throw AppError.invalid([{ path: field, message: "the source has no change capture yet: run a snapshot or start the stream first" }]);
  if (capture.lost) throw AppError.invalid([{ path: field, message: "the source's change capture is lost: re-snapshot the source" }]);
  if (capture.confirmed_cursor && codec.order(wanted) < codec.order(capture.confirmed_cursor)) {
    throw AppError.invalid([{ path: field, message: `is before the capture's confirmed position ${capture.confirmed_cursor}: the source no longer keeps those changes` }]);
  }
  if (codec.order(wanted) > codec.order(capture.current_cursor)) throw AppError.invalid([{ path: field, message: `is past the source's current position ${capture.current_cursor}` }]);
  return wanted;
}

export async function getCursor(sourceId: string) {
  await getSource(sourceId);
  const s = await ensureStream(sourceId);
  return { cursor: s.cursor };
}

export async function putCursor(sourceId: string, cursor: string) {
  await requireStreamable(sourceId);
  const s = await ensureStream(sourceId);
  if (s.enabled || leaseHeld(s)) throw new AppError("CONFLICT", "stop the stream before moving its cursor (POST …/stream {\"action\":\"stop\"})");
  const checked = await checkCursor(sourceId, cursor, "cursor");
  await auditedSql(
    async (client) => {
      const moved = (await client.query<{ before: string | null }>("UPDATE streams n SET cursor = $2, cursor_updated_at = now(), updated_at = now() FROM streams o WHERE n.source_id = $1 AND o.source_id = n.source_id AND NOT n.enabled RETURNING o.cursor AS before", [sourceId, checked])).rows[0];
      // The stream started between the check above and this update.
      if (!moved) throw new AppError("CONFLICT", "stop the stream before moving its cursor (POST …/stream {\"action\":\"stop\"})");
      return moved;
    },
    (moved) => ({ action: "stream.cursor", source_id: sourceId, target: { kind: "stream", id: sourceId }, details: { before: moved.before, after: checked } }),
  );
  return { cursor: checked };
}

export async function entityAction(sourceId: string, entity: string, action: z.infer<typeof ZEntityAction>["action"], by: Principal) {
  const { mappings } = await getMappings(sourceId);
  if (!mappings.some((m) => m.source.table === entity)) throw AppError.invalid([{ path: "entity", message: `${entity} is not mapped` }]);
  const s = await ensureStream(sourceId);
  switch (action) {
    case "pause":
      // Recorded when it changed something (an entity paused already is not paused again).
      await auditedSql(
        async (client) => (await client.query("UPDATE streams SET paused_entities = array_append(paused_entities, $2), updated_at = now() WHERE source_id = $1 AND NOT ($2 = ANY(paused_entities))", [sourceId, entity])).rowCount === 1,
        (changed) => (changed ? { action: "entity.pause", source_id: sourceId, target: { kind: "entity", id: entity } } : null),
      );
      return { run_id: null };
    case "resume": {
      // A running stream re-snapshots the entity itself once it applies its changes again;
      // without one, the snapshot runs now (the stream applies later changes when started): the
      // entry says so, and the run names who asked.
      const snapshotNow = s.paused_entities.includes(entity) && !leaseHeld(s);
      await auditedSql(
        async (client) => (await client.query("UPDATE streams SET paused_entities = array_remove(paused_entities, $2), updated_at = now() WHERE source_id = $1 AND $2 = ANY(paused_entities)", [sourceId, entity])).rowCount === 1,
        (changed) => (changed ? { action: "entity.resume", source_id: sourceId, target: { kind: "entity", id: entity }, details: { resnapshot: snapshotNow } } : null),
      );
      return snapshotNow ? queueSnapshot(sourceId, [entity], by.name) : { run_id: null };
    }
    case "resnapshot": {
      const queued = await queueSnapshot(sourceId, [entity], by.name);
      await recordAfter({ action: "entity.resnapshot", source_id: sourceId, target: { kind: "run", id: queued.run_id }, details: { entity } });
      return queued;
    }
  }
}
