// Talking to a registered source through its connector: health, capabilities, discovery and paged
// snapshot reads. Connectors are opened per call and always shut down; the config (secret
// references only) is read from the store, and secrets are resolved inside the connector.
import { z } from "zod";
import { connectorType } from "../connectors/registry.ts";
import type { PostgresConnector } from "../connectors/postgresql/connector.ts";
import { connectFailure } from "../connectors/postgresql/health.ts";
import type { TPostgresConfig } from "../connectors/postgresql/config.ts";
import type { ECMConnector, JsonValue } from "../connectors/types.ts";
import { AppError } from "../errors/app-error.ts";
import { decodeCursor, encodeCursor } from "../pagination.ts";
import { getSource } from "./service.ts";
import { latestMapping } from "../store/mappings.ts";

const CONNECT_CODES = new Set(["28P01", "28000", "3D000", "53300", "57P03"]);

/** A pg or network error while talking to a source, as an AppError a user can act on. */
function asSourceError(error: unknown, config: TPostgresConfig): unknown {
  if (error instanceof AppError) return error;
  const code = (error as { code?: string }).code ?? "";
  const sqlState = /^[0-9A-Z]{5}$/.test(code);
  const network = /^E[A-Z]+$/.test(code) || /Connection terminated|timeout expired|SSL|certificate/i.test((error as Error)?.message ?? "");
  if (!sqlState && !network) return error; // not the source's doing: keep the original error
  if (sqlState && !CONNECT_CODES.has(code)) {
    // A query failed after connecting: PostgreSQL's own message says what.
    return new AppError("BAD_REQUEST", (error as Error).message, { category: code.startsWith("42") ? "CONFIGURATION" : "TRANSIENT" });
  }
  const check = connectFailure(error, config);
  const transient = check.name === "reachable";
  return new AppError(transient ? "SERVICE_UNAVAILABLE" : "BAD_REQUEST", `${check.message}; ${check.hint ?? ""}`, {
    category: transient ? "TRANSIENT" : "CONFIGURATION",
  });
}

export async function withConnector<T>(sourceId: string, fn: (connector: PostgresConnector) => Promise<T>, mappedTables?: string[]): Promise<T> {
  const source = await getSource(sourceId);
  const type = connectorType(source.connector_type)!;
  const connector = type.create({ sourceId, mappedTables }) as ECMConnector as PostgresConnector;
  try {
    await connector.initialize(source.config);
    return await fn(connector);
  } catch (error) {
    throw asSourceError(error, source.config);
  } finally {
    await connector.shutdown();
  }
}

/** Health checks look at the mapped tables (SELECT privilege) once a mapping exists. */
export async function sourceHealth(id: string) {
  const mapping = await latestMapping(id);
  const tables = ((mapping?.document as { mappings?: { source: { table: string } }[] } | undefined)?.mappings ?? []).map((m) => m.source.table);
  return withConnector(id, (c) => c.healthCheck(), [...new Set(tables)]);
}
export const sourceEntities = (id: string) => withConnector(id, async (c) => ({ entities: await c.listEntities() }));
export const sourceEntity = (id: string, name: string) => withConnector(id, (c) => c.describeEntity(name));

export async function sourceCapabilities(id: string) {
  const source = await getSource(id);
  return connectorType(source.connector_type)!.capabilities;
}

export const ZExtractSnapshotInput = z.object({
  entity: z.string().min(1),
  batch_size: z.number().int().min(1).max(10_000).default(1000),
  cursor: z.string().nullish(),
});

/** One page of the spec's extract_snapshot: contexts in key order and the cursor of the next page. */
export function extractSnapshotPage(id: string, input: z.output<typeof ZExtractSnapshotInput>) {
  return withConnector(id, async (connector) => {
    const after = input.cursor ? decodeCursor(input.cursor) : null;
    const contexts: { context_type: string; context_id: string; data: Record<string, JsonValue>; source: { entity: string; key: string[] } }[] = [];
    let last: string[] | null = null;
    for await (const chunk of connector.snapshotChunks(input.entity, { batch_size: input.batch_size, limit: input.batch_size, after_key: after })) {
      chunk.records.forEach((data, i) => {
        const key = chunk.keys[i]!;
        contexts.push({ context_type: input.entity, context_id: key.join(":"), data, source: { entity: input.entity, key } });
      });
      last = chunk.last_key;
    }
    return { contexts, cursor: last && contexts.length === input.batch_size ? encodeCursor(last) : null };
  });
}
