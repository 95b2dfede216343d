// Browsing the context store.
import { z } from "zod";
import { AppError } from "../errors/app-error.ts";
import { decodeCursor, encodeCursor } from "../pagination.ts";
import * as store from "../store/contexts.ts";

export const ZStoredContext = z.object({
  context_type: z.string(),
  context_id: z.string(),
  data: z.record(z.string(), z.unknown()),
  source_id: z.string(),
  entity: z.string(),
  cursor: z.string().nullable(),
  deleted: z.boolean(),
  mapping_version: z.number(),
  updated_at: z.string(),
});

export const ZListContextsInput = z.object({
  context_type: z.string().optional(),
  source_id: z.uuid().optional(),
  limit: z.number().int().min(1).max(500).default(50),
  cursor: z.string().optional(),
});

export async function listContexts(input: z.output<typeof ZListContextsInput>) {
  const rows = await store.listContexts({
    contextType: input.context_type,
    sourceId: input.source_id,
    limit: input.limit + 1,
    after: input.cursor ? (decodeCursor(input.cursor, 2) as [string, string]) : null,
  });
  const page = rows.slice(0, input.limit);
  return { contexts: page, next_cursor: rows.length > input.limit ? encodeCursor([page[page.length - 1]!.context_type, page[page.length - 1]!.context_id]) : null };
}

export async function getContext(contextType: string, contextId: string, includeDeleted = false) {
  const row = await store.getContext(contextType, contextId);
  if (!row || (row.deleted && !includeDeleted)) throw AppError.notFound(`context ${contextType}/${contextId}`);
  return row;
}
