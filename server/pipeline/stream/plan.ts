// What the stream does with each mapped entity, worked out once before anything is read: its
// compiled mappings, the columns they read, and whether its deletes can be mapped at all.
import { AppError } from "../../errors/app-error.ts";
import type { ECMConnector, EntitySchema } from "../../connectors/types.ts";
import { compileMapping, type CompiledMapping } from "../../mapping/compile.ts";
import { transformEnv } from "../../mapping/service.ts";
import type { TEntityMapping } from "../../mapping/spec.ts";

export type EntityPlan = { entity: string; described: EntitySchema; mappers: CompiledMapping[]; mappedColumns: Set<string> };

export async function planEntities(connector: ECMConnector, mappings: TEntityMapping[]): Promise<Map<string, EntityPlan>> {
  const plans = new Map<string, EntityPlan>();
  for (const m of mappings) {
    let plan = plans.get(m.source.table);
    if (!plan) plans.set(m.source.table, (plan = { entity: m.source.table, described: await connector.describeEntity(m.source.table), mappers: [], mappedColumns: new Set() }));
    const mapper = compileMapping(m, transformEnv());
    plan.mappers.push(mapper);
    for (const step of mapper.steps) for (const c of step.reads) plan.mappedColumns.add(c);
    if (m.source.soft_delete) plan.mappedColumns.add(m.source.soft_delete); // a schema change to it pauses like any mapped column
  }
  for (const plan of plans.values()) checkDeletesMappable(plan);
  return plans;
}

/** Deletes carry only the key unless the source sends whole old rows: context_id must then come from key columns. */
export function checkDeletesMappable(plan: EntityPlan) {
  const { old_row: carries, old_row_fix: fix } = plan.described;
  if (carries === "whole") return;
  if (carries === "none") {
    throw new AppError("BAD_REQUEST", `the changes of ${plan.entity} carry nothing of the old row: its updates and deletes cannot be captured. Run ${fix}.`, { category: "CONFIGURATION" });
  }
  const key = new Set(plan.described.primary_key);
  for (const mapper of plan.mappers) {
    const outside = mapper.idReads.filter((c) => !key.has(c));
    if (outside.length) {
      throw new AppError(
        "BAD_REQUEST",
        `context_id of ${mapper.contextType} is built from ${outside.join(", ")}, which deletes of ${plan.entity} do not carry (they carry the primary key only). ` +
          `Map context_id from key columns, or run ${fix}.`,
        { category: "CONFIGURATION" },
      );
    }
  }
}
