import { env } from "../../env.ts";
import { callerKey, limitPerCaller } from "../../http/rate-limit.ts";
import { z } from "zod";
import * as sources from "../../sources/service.ts";
import {
  ZCreateSourceInput,
  ZDeleteSourceInput,
  ZListInput,
  ZSource,
  ZSourceId,
  ZUpdateSourceInput,
} from "../../sources/schemas.ts";
import { ZCapabilities, ZEntitySchema, ZEntityType, ZHealthStatus, ZSnapshotPage } from "../../connectors/schemas.ts";
import { ZConnectorConfig } from "../../connectors/registry.ts";
import { extractSnapshotPage, sourceCapabilities, sourceEntities, sourceEntity, sourceHealth, testDraftConnection } from "../../sources/connectivity.ts";
import { runEnvelope, ZOperationEnvelope, ZOperationResult } from "../../sources/operations.ts";
import { removeSource } from "../../sources/removal.ts";
import { listSourceOverviews, ZSourceOverviewList } from "../../streams/service.ts";
import { AppError } from "../../errors/app-error.ts";
import { createTRPCRouter, editorProcedure, rest, viewerProcedure } from "../trpc.ts";

export const sourcesRouter = createTRPCRouter({
  list: viewerProcedure
    .meta(rest("GET", "/sources", "sources", "List sources, each with its live state (as …/status), lag and last durable checkpoint"))
    .input(ZListInput.default({ limit: 100 }))
    .output(ZSourceOverviewList)
    .query(({ input }) => listSourceOverviews(input)),
  get: viewerProcedure
    .meta(rest("GET", "/sources/{id}", "sources", "Get a source"))
    .input(ZSourceId)
    .output(ZSource)
    .query(({ input }) => sources.getSource(input.id)),
  create: editorProcedure
    .meta(rest("POST", "/sources", "sources", "Register a source (connection config as in the spec; a typed authentication.password is stored encrypted)", 201))
    .input(ZCreateSourceInput)
    .output(ZSource)
    .mutation(({ input, ctx }) => sources.createSource(input, { by: ctx.principal })),
  update: editorProcedure
    .meta(rest("PATCH", "/sources/{id}", "sources", "Rename a source or replace its config"))
    .input(ZUpdateSourceInput)
    .output(ZSource)
    .mutation(({ input, ctx }) => sources.updateSource(input, ctx.principal)),
  health: viewerProcedure
    .meta(rest("POST", "/sources/{id}/health", "connectors", "Run the connector's health checks against the source"))
    .input(ZSourceId)
    .output(ZHealthStatus)
    .mutation(({ input }) => sourceHealth(input.id)),
  /**
   * Test a connection before saving it (a typed password is used, not stored). A draft may name a
   * stored secret (editing a source without retyping its password): it is only decrypted when the
   * draft's connection is the one that secret was typed for (server/secrets/binding.ts).
   */
  testConnection: editorProcedure
    .input(z.object({ config: ZConnectorConfig }))
    .output(ZHealthStatus)
    .mutation(async ({ input, ctx }) => {
      // Each draft test connects where the caller says: bounded per caller (port scans, guessing).
      await limitPerCaller("draft connection tests", ctx.principal, env().ECM_DRAFT_TEST_LIMIT);
      // An operator-provided secret (env://, file://, vault://) goes only where an admin sent it.
      if (!(await sources.draftSecretAllowed(input.config, ctx.principal))) {
        throw new AppError("FORBIDDEN", "only an admin may test an env://, file:// or vault:// secret against a connection no saved source uses it for", {
          category: "CONFIGURATION",
          issues: [{ path: "config.authentication.password_secret", message: "type the password to test this connection, or ask an admin" }],
        });
      }
      return testDraftConnection(input.config, callerKey(ctx.principal));
    }),
  capabilities: viewerProcedure
    .meta(rest("GET", "/sources/{id}/capabilities", "connectors", "The connector's getCapabilities()"))
    .input(ZSourceId)
    .output(ZCapabilities)
    .query(({ input }) => sourceCapabilities(input.id)),
  entities: viewerProcedure
    .meta(rest("GET", "/sources/{id}/entities", "connectors", "Tables, partitioned tables and views of the source"))
    .input(ZSourceId)
    .output(z.object({ entities: z.array(ZEntityType) }))
    .query(({ input }) => sourceEntities(input.id)),
  entity: viewerProcedure
    .meta(rest("GET", "/sources/{id}/entities/{name}", "connectors", "Columns, types, keys and replica identity of one entity (`customers` or `schema.table`)"))
    .input(ZSourceId.extend({ name: z.string().min(1) }))
    .output(ZEntitySchema)
    .query(({ input }) => sourceEntity(input.id, input.name)),
  /** The first rows of an entity, in key order, for the entity browser. */
  sample: viewerProcedure
    .input(ZSourceId.extend({ name: z.string().min(1), limit: z.number().int().min(1).max(100).default(20) }))
    .output(ZSnapshotPage)
    .query(({ input }) => extractSnapshotPage(input.id, { entity: input.name, batch_size: input.limit, cursor: null })),
  /** The spec's operation envelope, as written: `{"operation": "connector.list_entities", …}`. */
  operation: viewerProcedure
    .meta(rest("POST", "/sources/{id}/operations", "connectors", "The spec's operation envelope: connector.list_entities, describe_entity, health_check, get_capabilities, extract_snapshot (paged), stream_changes (editor)"))
    .input(ZOperationEnvelope.extend({ id: z.uuid() }))
    .output(ZOperationResult)
    .mutation(({ input: { id, ...envelope }, ctx }) => runEnvelope(id, envelope, ctx.principal)),
  /** The demo source's writer (worker/demo-writer.ts): on or off. */
  setDemoWriter: editorProcedure
    .input(ZSourceId.extend({ enabled: z.boolean() }))
    .output(ZSource)
    .mutation(({ input, ctx }) => sources.setDemoWriter(input.id, input.enabled, ctx.principal)),
  delete: editorProcedure
    .meta(rest("DELETE", "/sources/{id}", "sources", "Delete a source and its change capture on the source (PostgreSQL: replication slot and publication; ?drop_capture=false, or its former name ?drop_slot=false, leaves it; 409 with what to run when it cannot be removed)", 204))
    .input(ZDeleteSourceInput)
    .output(z.void())
    .mutation(({ input }) => removeSource(input)),
});
