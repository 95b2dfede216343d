// Request and response shapes of the sources API, shared by tRPC, the public HTTP API and its
// OpenAPI document. JSON field names are snake_case, as in the specification.
import { z } from "zod";
import { CONNECTOR_TYPE_NAMES, ZConnectorConfig } from "../connectors/registry.ts";

export const SOURCE_STATES = ["idle", "snapshotting", "streaming", "retrying", "paused", "failed"] as const;

export const ZSourceName = z
  .string()
  .trim()
  .min(1, "name is required")
  .max(100, "name must be at most 100 characters")
  .regex(/^[^\u0000-\u001f]+$/, "name must not contain control characters");

export const ZCreateSourceInput = z
  .object({ name: ZSourceName, config: ZConnectorConfig })
  .strict();
export type TCreateSourceInput = z.input<typeof ZCreateSourceInput>;

export const ZUpdateSourceInput = z
  .object({ id: z.uuid(), name: ZSourceName.optional(), config: ZConnectorConfig.optional() })
  .strict();

export const ZSourceId = z.object({ id: z.uuid("source id must be a UUID") });

export const ZDeleteSourceInput = z.object({
  id: z.uuid(),
  // Removes the source's change capture from it too (PostgreSQL: replication slot and publication;
  // left there, a slot retains WAL until the disk fills). false: delete the source and leave it
  // (when it cannot be removed). `drop_slot` is the same switch under its first, PostgreSQL name.
  drop_capture: z.boolean().optional().describe("Also remove the source's change capture from it (default true)"),
  drop_slot: z.boolean().optional().describe("drop_capture under its former name (kept for existing clients)"),
});

/** Whether a deletion also removes the capture (drop_capture, else drop_slot, else yes). */
export const dropsCapture = (input: z.output<typeof ZDeleteSourceInput>) => input.drop_capture ?? input.drop_slot ?? true;

export const ZListInput = z.object({
  limit: z.number().int().min(1).max(500).default(100),
  cursor: z.string().optional(),
});

export const ZSource = z.object({
  id: z.uuid(),
  name: z.string(),
  connector_type: z.enum(CONNECTOR_TYPE_NAMES),
  // Secrets appear only as references (env://, file://, vault://, secret://).
  config: ZConnectorConfig,
  status: z.enum(SOURCE_STATES),
  last_error: z.string().nullable(),
  is_demo: z.boolean(),
  /** The demo source: whether the demo writer changes its rows (always false for other sources). */
  demo_writer: z.boolean(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});
export type TSource = z.infer<typeof ZSource>;

