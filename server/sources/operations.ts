// The spec's operation envelope (`{"operation": "connector.list_entities", …}`), accepted as written.
import { z } from "zod";
import { hasRole, type Principal } from "../auth/roles.ts";
import { AppError } from "../errors/app-error.ts";
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
      include_operations: z.array(z.enum(["insert", "update", "delete"])).min(1).default(["insert", "update", "delete"]),
    })
    .strict(),
]);
export type TOperation = z.output<typeof ZOperation>;

export async function runOperation(sourceId: string, op: TOperation, principal: Principal): Promise<unknown> {
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
