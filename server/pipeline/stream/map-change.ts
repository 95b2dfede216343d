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

export function mapChange(mappers: CompiledMapping[], change: RowChange, out: Mapped): void {
  const { entity, order: position, cursor, key, key_columns } = change;
  // Writes are built as literals of one shape (no spreads): a drain maps hundreds of thousands.
  const write = (contextType: string, contextId: string, data: RecordWrite["data"], deleted: boolean, payload: SourceRecord, secretId: boolean, keep?: string[][]): RecordWrite => ({
    context_type: contextType,
    context_id: contextId,
    data,
    entity,
    position,
    cursor,
    deleted,
    keep,
    key,
    key_columns,
    payload,
    secret_id: secretId,
  });
  for (const mapper of mappers) {
    try {
      if (change.kind === "delete") {
        out.writes.push(write(mapper.contextType, mapper.contextId(change.row), null, true, change.row, mapper.secretId));
        continue;
      }
      const unchanged = change.unchanged;
      if (unchanged && mapper.idReads.some((c) => unchanged.has(c))) {
        throw new MappingDataError("context_id is built from a TOASTed column the change did not carry; set REPLICA IDENTITY FULL on the table", "context_id", 0);
      }
      const keep = unchanged ? keptPaths(mapper, unchanged) : [];
      const mapped = mapper.map(change.row);
      if (change.before) {
        // The key changed: the context under the old id is gone.
        const oldId = mapper.contextId(change.before);
        if (oldId !== mapped.context_id) out.writes.push(write(mapper.contextType, oldId, null, true, change.before, mapper.secretId));
      }
      out.writes.push(write(mapped.context_type, mapped.context_id, mapped.data, false, change.row, mapper.secretId, keep.length ? keep : undefined));
    } catch (e) {
      out.deadLetters.push(mappingFailure(e, { entity, position, cursor, key, key_columns }, mapper.contextType, change.row));
    }
  }
}
