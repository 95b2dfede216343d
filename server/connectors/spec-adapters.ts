// The specification's two iterators, extractSnapshot and streamChanges, written once over the
// capabilities every connector with resumable snapshots and change streams has: a row maps to
// itself (context_type the entity, context_id its key joined with ":"), and a change is handed
// out when its transaction commits, with the commit's cursor.
import type { ChangeEvent, ChangeOperation, ChangeStream, Context, ExtractOptions, RowChange, SnapshotChunk } from "./types.ts";

/** Every row of `chunks` as a Context of entity `type`, telling `onChunk` where each chunk ends. */
export async function* contextsOf(type: string, chunks: AsyncIterable<SnapshotChunk>, onChunk?: ExtractOptions["onChunk"]): AsyncGenerator<Context> {
  for await (const chunk of chunks) {
    for (let i = 0; i < chunk.records.length; i++) {
      const key = chunk.keys[i]!;
      yield { context_type: type, context_id: key.join(":"), data: chunk.records[i]!, source: { entity: type, key } };
    }
    await onChunk?.({ rows: chunk.records.length, last_key: chunk.resume_after });
  }
}

/**
 * The row changes of `changes` whose operation is in `include`, each handed out when its
 * transaction commits, with that commit's cursor. Ends (closing the stream) when `signal` aborts.
 * A change's `key` is its primary key's typed values (`primaryKey(entity)`), or, for a table
 * without one (rows told by their replica identity), the key's exact text.
 */
export async function* changeEventsOf(
  open: () => Promise<ChangeStream>,
  include: ReadonlySet<ChangeOperation>,
  primaryKey: (entity: string) => readonly string[] | undefined,
  signal?: AbortSignal,
): AsyncGenerator<ChangeEvent> {
  if (signal?.aborted) return;
  const changes = await open();
  signal?.addEventListener("abort", () => void changes.close());
  if (signal?.aborted) await changes.close(); // aborted while the stream opened
  let tx: RowChange[] = [];
  try {
    for await (const received of changes) {
      for (const change of received) {
        if (change.kind === "commit") {
          for (const c of tx) yield changeEvent(c, primaryKey(c.entity) ?? [], change.cursor, change.committed_at);
          tx = [];
        } else if (change.kind !== "schema" && change.kind !== "truncate" && include.has(change.kind)) tx.push(change);
      }
    }
  } finally {
    await changes.close();
  }
}

function changeEvent(change: RowChange, primaryKey: readonly string[], cursor: string, committedAt: Date | null): ChangeEvent {
  const { entity, key, row } = change;
  return {
    operation: change.kind,
    entity,
    key: primaryKey.length && primaryKey.length === key.length ? primaryKey.map((k) => row[k] ?? null) : key,
    context: { context_type: entity, context_id: key.join(":"), data: change.kind === "delete" ? {} : row, source: { entity, key, cursor } },
    cursor,
    committed_at: committedAt?.toISOString() ?? "",
  };
}
