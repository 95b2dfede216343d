// zod forms of the connector types (server/connectors/types.ts), for API outputs and OpenAPI.
import { z } from "zod";

const ZKind = z.enum(["table", "partitioned_table", "view", "materialized_view"]);
export const ZChangeOperation = z.enum(["insert", "update", "delete"]);

export const ZEntityType = z.object({
  name: z.string(),
  schema: z.string(),
  table: z.string(),
  kind: ZKind,
  primary_key: z.array(z.string()),
  row_estimate: z.number(),
  cdc: z.boolean(),
});

export const ZColumnSchema = z.object({
  name: z.string(),
  kind: z.enum(["text", "number", "boolean", "json", "time", "array", "bytes"]).describe("The kind of value, as the mapping's transforms see it"),
  type: z.string(),
  base_type: z.string(),
  nullable: z.boolean(),
  primary_key_position: z.number().optional(),
  is_array: z.boolean(),
  is_enum: z.boolean(),
  clock: z.boolean().optional().describe("A point in time the source's clock can bound: it may be an incremental cursor's first column"),
});

export const ZEntitySchema = ZEntityType.extend({
  columns: z.array(ZColumnSchema),
  replica_identity: z.enum(["default", "full", "index", "nothing"]),
  old_row: z.enum(["whole", "key", "none"]).describe("What an update's or delete's change carries of the old row"),
  old_row_fix: z.string().describe("How to make changes carry the whole old row"),
});

export const ZHealthStatus = z.object({
  status: z.enum(["healthy", "degraded", "unhealthy"]),
  checks: z.array(z.object({ name: z.string(), status: z.enum(["pass", "warn", "fail"]), message: z.string(), hint: z.string().optional() })),
});

export const ZCapabilities = z.object({
  connector_type: z.string(),
  snapshot: z.boolean(),
  cdc: z.boolean(),
  cursor_format: z.string(),
  operations: z.array(ZChangeOperation),
  composite_keys: z.boolean(),
  resumable_snapshot: z.boolean(),
  max_batch_size: z.number(),
});

const ZJson: z.ZodType<unknown> = z.unknown();

export const ZContext = z.object({
  context_type: z.string(),
  context_id: z.string(),
  data: z.record(z.string(), ZJson),
  source: z.object({ entity: z.string(), key: z.array(z.string()), cursor: z.string().nullish() }),
});

export const ZSnapshotPage = z.object({ contexts: z.array(ZContext), cursor: z.string().nullable() });

/** A committed change as the spec's stream_changes returns it; a delete's context has no data. */
export const ZChangeEvent = z.object({
  operation: ZChangeOperation,
  entity: z.string(),
  key: z.array(ZJson),
  context: ZContext.nullable(),
  cursor: z.string(),
  committed_at: z.string(),
});
export const ZChangesPage = z.object({ changes: z.array(ZChangeEvent), cursor: z.string().nullable() });
