// The demo comes alive on the first embedded start: the demo source gets the specification's
// example mapping (customers, preferences through json_parse) and one mapping per other demo
// table, each into a context type of the demo's own (demo-…): a newcomer who maps their own
// customers with the specification's example (customer-context) must not collide with it. Then a
// snapshot and a running stream, so a newcomer's first page already has
// contexts, runs, lag and dead letters (the broken preferences rows) to look at. The worker's demo
// writer (worker/demo-writer.ts) keeps it moving.
import type { Principal } from "../auth/roles.ts";
import { saveMappings } from "../mapping/service.ts";
import { SPEC_EXAMPLE_MAPPING } from "../mapping/spec-example.ts";
import type { TMappingDocument } from "../mapping/spec.ts";
import { queueSnapshot } from "../runs/service.ts";
import { streamAction } from "../streams/service.ts";
import { setDemoWriter } from "../sources/service.ts";

export const DEMO_MAPPING: TMappingDocument = {
  mappings: [
    ...SPEC_EXAMPLE_MAPPING.mappings.map((m) => ({ ...m, target: { ...m.target, context_type: "demo-customer" } })),
    {
      source: { table: "products" },
      target: { context_type: "demo-product" },
      fields: [
        { source: "product_id", target: "context_id" },
        { source: "sku", target: "data.sku" },
        { source: "name", target: "data.name" },
        { source: "price", target: "data.price" },
        { source: "tags", target: "data.tags" },
        { source: "attributes", target: "data.attributes" },
      ],
    },
    {
      source: { table: "orders" },
      target: { context_type: "demo-order" },
      fields: [
        { source: "order_id", target: "context_id" },
        { source: "customer_id", target: "data.customer_id" },
        { source: "status", target: "data.status" },
        { source: "total", target: "data.total" },
        { source: "ordered_at", target: "data.ordered_at" },
      ],
    },
    {
      source: { table: "order_items" },
      target: { context_type: "demo-order-item" },
      fields: [
        { target: "context_id", transform: { name: "template", template: "{order_id}-{line_no}" } },
        { source: "order_id", target: "data.order_id" },
        { source: "product_id", target: "data.product_id" },
        { source: "quantity", target: "data.quantity" },
        { source: "unit_price", target: "data.unit_price" },
      ],
    },
  ],
};

const DEMO: Principal = { kind: "token", id: "demo", name: "demo (first start)", role: "editor" };

/** Maps the demo source, runs its snapshot, starts its stream and its writer (the worker does the work). */
export async function makeDemoLive(sourceId: string) {
  await saveMappings(sourceId, DEMO_MAPPING, DEMO);
  await queueSnapshot(sourceId, undefined, DEMO.name);
  await streamAction(sourceId, { action: "start" }, DEMO);
  await setDemoWriter(sourceId, true, DEMO);
}
