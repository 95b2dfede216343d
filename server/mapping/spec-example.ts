// The specification's example mapping, on the demo shop's customers (scripts/lib/demo-source.ts):
// customer_id → context_id, email, and preferences through json_parse. The live demo starts from
// it (server/demo/live.ts) and tests use it; callers clone it before changing it.
import type { TMappingDocument } from "./spec.ts";

export const SPEC_EXAMPLE_MAPPING = {
  mappings: [
    {
      source: { table: "customers" },
      target: { context_type: "customer-context" },
      fields: [
        { source: "customer_id", target: "context_id" },
        { source: "email", target: "data.email" },
        { source: "preferences", target: "data.preferences", transform: "json_parse" },
      ],
    },
  ],
} satisfies TMappingDocument;
