// Where the pipeline reports to the metrics (metrics.ts): a handful of calls per batch, never per
// row, so their cost stays out of the hot path (and ECM_METRICS=off measures exactly that cost).
import type { ErrorOrigin } from "../errors/origin.ts";
import { batchSeconds, commitSeconds, contextsWritten, deadLettered, metricsEnabled, retries, rowsRead, type PipelineKind } from "./metrics.ts";

const on = metricsEnabled();

/** Rows (or changes) of one entity read by a pipeline. */
export function recordRead(kind: PipelineKind, sourceId: string, entity: string, rows: number) {
  if (on && rows) rowsRead.inc({ source_id: sourceId, entity, kind }, rows);
}

/** Time spent reading and mapping one batch before its commit. */
export function recordBatchBuilt(kind: PipelineKind, seconds: number) {
  if (on) batchSeconds.observe({ kind }, seconds);
}

/** One committed unit of work: its duration, the contexts it wrote and the records it dead-lettered. */
export function recordCommit(
  kind: PipelineKind,
  sourceId: string,
  seconds: number,
  writtenByEntity: ReadonlyMap<string, number>,
  deadLetters: readonly { entity: string; category: string }[],
) {
  if (!on) return;
  commitSeconds.observe({ kind }, seconds);
  for (const [entity, n] of writtenByEntity) if (n) contextsWritten.inc({ source_id: sourceId, entity, kind }, n);
  for (const d of deadLetters) deadLettered.inc({ source_id: sourceId, entity: d.entity, category: d.category, kind });
}

export function recordRetry(kind: PipelineKind, category: string, origin: ErrorOrigin | null) {
  if (on) retries.inc({ kind, category, origin: origin ?? "product" });
}
