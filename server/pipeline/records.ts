// A source record through the mapping: the contexts it becomes (one per mapping of its entity) and,
// for each mapping that cannot map it, a dead letter with the record (secret-looking columns
// redacted), the failing field and transform. Snapshot chunks and replays map records this way;
// stream changes add what changes need (stream/map-change.ts).
import type { SourceRecord } from "../connectors/types.ts";
import { redact } from "../secrets/redact.ts";
import { MappingDataError, type CompiledMapping } from "../mapping/compile.ts";
import type { NewDeadLetter } from "../store/dead-letters.ts";
import type { RecordWrite } from "../store/unit-of-work.ts";

/** Where a record sits: its entity, key (and the key's column names), and the store position and cursor it is written at. */
export type RecordOrigin = { entity: string; key: string[]; key_columns: readonly string[]; position: bigint; cursor: string | null };

export type Mapped = { writes: RecordWrite[]; deadLetters: NewDeadLetter[] };

export function deadLetter(origin: RecordOrigin, contextType: string, error: NewDeadLetter["error"], payload: SourceRecord): NewDeadLetter {
  return { entity: origin.entity, context_type: contextType, key: origin.key, key_columns: origin.key_columns, cursor: origin.cursor, position: origin.position, category: "DATA", error, payload: redact(payload) as object };
}

/** The dead letter of a mapping failure; anything else than a MappingDataError is not the record's fault and is thrown. */
export function mappingFailure(error: unknown, origin: RecordOrigin, contextType: string, payload: SourceRecord): NewDeadLetter {
  if (!(error instanceof MappingDataError)) throw error;
  return deadLetter(origin, contextType, { message: error.message, field: error.field, transform: error.transform ?? null }, payload);
}

/** Maps `record` (from `origin`) with every mapping of its entity into `out`. */
export function mapRecord(mappers: CompiledMapping[], record: SourceRecord, origin: RecordOrigin, out: Mapped): void {
  const { entity, key, key_columns, position, cursor } = origin;
  for (const mapper of mappers) {
    try {
      // A row its soft-delete column marks deleted is a tombstone under its context_id (what the
      // store holds stays, as for a delete), whatever its other fields would map to.
      if (mapper.softDeleted(record)) {
        out.writes.push({ context_type: mapper.contextType, context_id: mapper.contextId(record), data: null, entity, position, cursor, deleted: true, key, key_columns, payload: record, secret_id: mapper.secretId });
        continue;
      }
      const mapped = mapper.map(record);
      out.writes.push({ context_type: mapped.context_type, context_id: mapped.context_id, data: mapped.data, entity, position, cursor, deleted: false, key, key_columns, payload: record, secret_id: mapper.secretId });
    } catch (e) {
      out.deadLetters.push(mappingFailure(e, origin, mapper.contextType, record));
    }
  }
}
