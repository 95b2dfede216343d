import { z } from "zod";
import { CONNECTOR_TYPES, configJsonSchema } from "../../connectors/registry.ts";
import { createTRPCRouter, rest, viewerProcedure } from "../trpc.ts";

export const ZConnectorTypeInfo = z.object({
  type: z.string(),
  label: z.string(),
  secret_fields: z.array(z.string()),
  config_schema: z.record(z.string(), z.unknown()),
});

export const connectorsRouter = createTRPCRouter({
  /** Connector types with the JSON Schema the console renders its forms from. */
  types: viewerProcedure.meta(rest("GET", "/connector-types", "connectors", "Connector types and the JSON Schema of their connection config")).output(z.object({ connector_types: z.array(ZConnectorTypeInfo) })).query(() => ({
    connector_types: Object.values(CONNECTOR_TYPES).map((t) => ({
      type: t.type,
      label: t.label,
      secret_fields: t.secretFields,
      config_schema: configJsonSchema(t.type) as Record<string, unknown>,
    })),
  })),
});
