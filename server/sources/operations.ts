// The spec's operation envelope (`{"operation": "connector.list_entities", …}`), accepted as written.
import { z } from "zod";
import { hasRole, type Principal } from "../auth/roles.ts";
import { AppError, parseRequest } from "../errors/app-error.ts";
import { ZCapabilities, ZChangeOperation, ZChangesPage, ZEntitySchema, ZEntityType, ZHealthStatus, ZSnapshotPage } from "../connectors/schemas.ts";
import { streamChangesPage } from "../streams/changes-page.ts";
import { ZCursor } from "../streams/cursor.ts";
import {
  extractSnapshotPage,
  sourceCapabilities,
  sourceEntities,
  sourceEntity,
  sourceHealth,
  ZExtractSnapshotInput,
} from "./connectivity.ts";

export const ZOperation = z.discriminatedUnion("operation", [
  z.object({ operation: z.literal("connector.list_entities") }).strict(),
  z.object({ operation: z.literal("connector.describe_entity"), entity: z.string().min(1) }).strict(),
  z.object({ operation: z.literal("connector.health_check") }).strict(),
  z.object({ operation: z.literal("connector.get_capabilities") }).strict(),
  ZExtractSnapshotInput.extend({ operation: z.literal("connector.extract_snapshot") }).strict(),
  z
    .object({
      operation: z.literal("connector.stream_changes"),
      cursor: ZCursor.optional(),
      batch_size: z.number().int().min(1).max(10_000).default(100),
      include_operations: z.array(ZChangeOperation).min(1).default([...ZChangeOperation.options]),
    })
    .strict(),
]);
export type TOperation = z.output<typeof ZOperation>;

type OperationName = TOperation["operation"];
const OPERATION_NAMES = ZOperation.options.map((o) => o.shape.operation.value) as [OperationName, ...OperationName[]];

/**
 * The envelope as one object: the public API's body and the procedure's input, so both have one
 * schema (an OpenAPI request body is an object). Every field any operation takes, each described;
 * which of them an operation takes, and their defaults, are checked by ZOperation after it.
 */
export const ZOperationEnvelope = z
  .object({
    operation: z.enum(OPERATION_NAMES),
    entity: z.string().min(1).optional().describe("describe_entity, extract_snapshot: `customers` or `schema.table`"),
    batch_size: z.number().int().min(1).max(10_000).optional().describe("extract_snapshot (default 1000), stream_changes (default 100)"),
    cursor: z.string().nullish().describe("extract_snapshot: the previous page's cursor; stream_changes: a cursor in the connector's format (cursor_format) to read from"),
    include_operations: z.array(ZChangeOperation).min(1).optional().describe("stream_changes: which operations (default all three)"),
  })
  .strict();

/** An operation's answer: the result of the connector method it names. */
export const ZOperationResult = z.union([
  z.object({ entities: z.array(ZEntityType) }),
  ZEntitySchema,
  ZHealthStatus,
  ZCapabilities,
  ZSnapshotPage,
  ZChangesPage,
]);

/** Runs an operation sent as the spec's envelope. */
export function runEnvelope(sourceId: string, envelope: z.output<typeof ZOperationEnvelope>, principal: Principal) {
  return runOperation(sourceId, parseRequest(ZOperation, envelope), principal);
}

export async function runOperation(sourceId: string, op: TOperation, principal: Principal) {
  switch (op.operation) {
    case "connector.list_entities":
      return sourceEntities(sourceId);
    case "connector.describe_entity":
      return sourceEntity(sourceId, op.entity);
    case "connector.health_check":
      return sourceHealth(sourceId);
    case "connector.get_capabilities":
      return sourceCapabilities(sourceId);
    case "connector.extract_snapshot":
      return extractSnapshotPage(sourceId, op);
    case "connector.stream_changes":
      if (!hasRole(principal.role, "editor")) throw new AppError("FORBIDDEN", "reading changes from the slot needs the editor role");
      return streamChangesPage(sourceId, op);
  }
}
