// A row change through the mapping, with what changes need beyond a snapshot row:
//   - a delete writes a tombstone under the context_id its key maps to;
//   - an update whose key moved tombstones the context under the old id;
//   - fields built from columns the change did not carry (unchanged TOAST values) keep the stored
//     value (their paths travel with the write), never null; a context_id built from such a
//     column cannot be known, and the record is a dead letter saying how to fix the table.
import type { RowChange, SourceRecord } from "../../connectors/types.ts";
import type { RecordWrite } from "../../store/unit-of-work.ts";
import { MappingDataError, type CompiledMapping } from "../../mapping/compile.ts";
import { mappingFailure, type Mapped } from "../records.ts";

/** Paths of the fields that read an unchanged column (context_id excepted): their stored value is kept. */
export function keptPaths(mapper: CompiledMapping, unchanged: ReadonlySet<string>): string[][] {
  return mapper.steps.filter((s) => s.target !== "context_id" && s.reads.some((c) => unchanged.has(c))).map((s) => s.path);
}

// A change's write, built as a literal of one shape (no spreads): a drain maps hundreds of thousands.
function writeOf(change: RowChange, mapper: CompiledMapping, contextType: string, contextId: string, data: RecordWrite["data"], payload: SourceRecord, keep?: string[][]): RecordWrite {
  return {
    context_type: contextType,
    context_id: contextId,
    data,
    entity: change.entity,
    position: change.order,
    cursor: change.cursor,
    deleted: data === null,
    keep,
    key: change.key,
    key_columns: change.key_columns,
    payload,
    secret_id: mapper.secretId,
  };
}

export function mapChange(mappers: CompiledMapping[], change: RowChange, out: Mapped): void {
  for (const mapper of mappers) {
    try {
      if (change.kind === "delete") {
        out.writes.push(writeOf(change, mapper, mapper.contextType, mapper.contextId(change.row), null, change.row));
        continue;
      }
      const unchanged = change.unchanged;
      if (unchanged && mapper.idReads.some((c) => unchanged.has(c))) {
        throw new MappingDataError("context_id is built from a TOASTed column the change did not carry; set REPLICA IDENTITY FULL on the table", "context_id", 0);
      }
      if (unchanged && mapper.softDeleteColumn && unchanged.has(mapper.softDeleteColumn)) {
        throw new MappingDataError("the soft-delete column is a TOASTed value the change did not carry; set REPLICA IDENTITY FULL on the table", mapper.softDeleteColumn, 0);
      }
      if (mapper.softDeleted(change.row)) {
        // Soft-deleted: a tombstone under its context_id, whatever its other fields would map to
        // (the context under an old id, when the key moved, is gone too).
        const id = mapper.contextId(change.row);
        if (change.before) {
          const oldId = mapper.contextId(change.before);
          if (oldId !== id) out.writes.push(writeOf(change, mapper, mapper.contextType, oldId, null, change.before));
        }
        out.writes.push(writeOf(change, mapper, mapper.contextType, id, null, change.row));
        continue;
      }
      const keep = unchanged ? keptPaths(mapper, unchanged) : [];
      const mapped = mapper.map(change.row);
      if (change.before) {
        // The key changed: the context under the old id is gone.
        const oldId = mapper.contextId(change.before);
        if (oldId !== mapped.context_id) out.writes.push(writeOf(change, mapper, mapper.contextType, oldId, null, change.before));
      }
      out.writes.push(writeOf(change, mapper, mapped.context_type, mapped.context_id, mapped.data, change.row, keep.length ? keep : undefined));
    } catch (e) {
      const { entity, order: position, cursor, key, key_columns } = change;
      out.deadLetters.push(mappingFailure(e, { entity, position, cursor, key, key_columns }, mapper.contextType, change.row));
    }
  }
}
