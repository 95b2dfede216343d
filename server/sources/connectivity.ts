// Talking to a registered source through its connector: health, capabilities, discovery and paged
// snapshot reads. Connectors are opened per call and always shut down; the config (secret
// references only) is read from the store, and secrets are resolved inside the connector.
import { z } from "zod";
import { sourceBoundary } from "../connectors/boundary.ts";
import { connectorType, type TConnectorConfig } from "../connectors/registry.ts";
import { requireCapability, type ConnectorContext, type ECMConnector, type HealthStatus, type JsonValue } from "../connectors/types.ts";
import { decodeCursor, encodeCursor } from "../pagination.ts";
import { getSource } from "./service.ts";
import { latestMapping } from "../store/mappings.ts";
import { PAGE_LIMITS, withSourceSession } from "./sessions.ts";

/** A source id that names no source: what a draft connection (not saved yet) is tested under. */
const DRAFT_SOURCE_ID = "00000000-0000-0000-0000-000000000000";

/**
 * Runs `fn` with the source's connector, initialized with its stored config and always shut down.
 * The connector comes through the source boundary: what it throws is marked as the source's and
 * classified once, by classify(), where it is handled.
 */
/** What a health check looks at besides the connection: the mapping's tables and cursors. */
type MappingContext = Pick<ConnectorContext, "mappedTables" | "incrementalCursors">;

export async function withConnector<T>(sourceId: string, fn: (connector: ECMConnector) => Promise<T>, mapping: MappingContext = {}): Promise<T> {
  const source = await getSource(sourceId);
  return withConfig(source.config, { sourceId, ...mapping }, fn);
}

async function withConfig<T>(config: TConnectorConfig, context: ConnectorContext, fn: (connector: ECMConnector) => Promise<T>): Promise<T> {
  const type = connectorType(config.connector_type)!;
  const connector = sourceBoundary(type.create(context), type.classifyError);
  try {
    await connector.initialize(config);
    return await fn(connector);
  } finally {
    await connector.shutdown().catch(() => {});
  }
}

/**
 * The connector for an interactive call (the API, the console): one of the source's bounded
 * sessions in this process (sources/sessions.ts), else as withConnector.
 */
export function withInteractiveConnector<T>(sourceId: string, fn: (connector: ECMConnector) => Promise<T>, mapping: MappingContext = {}): Promise<T> {
  return withSourceSession(sourceId, () => withConnector(sourceId, fn, mapping));
}

/**
 * The health checks of a connection that is not saved yet (its own capture set-up does not
 * exist), as one of the caller's bounded draft sessions (`caller`: whom they count against).
 */
export function testDraftConnection(config: TConnectorConfig, caller: string): Promise<HealthStatus> {
  return withSourceSession(`draft:${caller}`, () => withConfig(config, { sourceId: DRAFT_SOURCE_ID, mappedTables: [] }, (c) => c.healthCheck()));
}

/** Health checks look at the mapped tables (SELECT privilege) and their incremental cursors (an index) once a mapping exists. */
export async function sourceHealth(id: string) {
  const mapping = await latestMapping(id);
  const entries = (mapping?.document as { mappings?: { source: { table: string; cursor?: string[] } }[] } | undefined)?.mappings ?? [];
  const cursors = new Map(entries.filter((m) => m.source.cursor?.length).map((m) => [m.source.table, m.source.cursor!]));
  return withInteractiveConnector(id, (c) => c.healthCheck(), {
    mappedTables: [...new Set(entries.map((m) => m.source.table))],
    incrementalCursors: [...cursors].map(([table, cursor]) => ({ table, cursor })),
  });
}
export const sourceEntities = (id: string) => withInteractiveConnector(id, async (c) => ({ entities: await c.listEntities() }));
export const sourceEntity = (id: string, name: string) => withInteractiveConnector(id, (c) => c.describeEntity(name));

export async function sourceCapabilities(id: string) {
  const source = await getSource(id);
  return connectorType(source.connector_type)!.capabilities;
}

export const ZExtractSnapshotInput = z.object({
  entity: z.string().min(1),
  batch_size: z.number().int().min(1).max(10_000).default(1000),
  cursor: z.string().nullish(),
});

/**
 * One page of the spec's extract_snapshot: contexts in key order and the cursor of the next page.
 * A page holds at most PAGE_LIMITS.rows rows (a larger batch_size is served over several pages) and
 * about PAGE_LIMITS.bytes of JSON: it is read in small chunks and ends after the chunk that passes
 * the budget, so the web process never holds a large page whole.
 */
export function extractSnapshotPage(id: string, input: z.output<typeof ZExtractSnapshotInput>) {
  const wanted = Math.min(input.batch_size, PAGE_LIMITS.rows);
  return withInteractiveConnector(id, async (connector) => {
    const after = input.cursor ? decodeCursor(input.cursor) : null;
    const contexts: { context_type: string; context_id: string; data: Record<string, JsonValue>; source: { entity: string; key: string[] } }[] = [];
    let last: string[] | null = null;
    let bytes = 0;
    let full = false;
    const reader = requireCapability(connector, "readSnapshotChunks", "read snapshots page by page");
    for await (const chunk of reader.readSnapshotChunks(input.entity, { batch_size: Math.min(wanted, 100), limit: wanted, after })) {
      chunk.records.forEach((data, i) => {
        const key = chunk.keys[i]!;
        bytes += Buffer.byteLength(JSON.stringify(data));
        contexts.push({ context_type: input.entity, context_id: key.join(":"), data, source: { entity: input.entity, key } });
      });
      last = chunk.resume_after;
      if (bytes > PAGE_LIMITS.bytes) {
        full = true;
        break;
      }
    }
    return { contexts, cursor: last && (full || contexts.length === wanted) ? encodeCursor(last) : null };
  });
}
