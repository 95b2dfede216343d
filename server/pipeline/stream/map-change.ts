// A row change through the mapping, with what changes need beyond a snapshot row:
//   - a delete writes a tombstone under the context_id its key maps to;
//   - an update whose key moved tombstones the context under the old id;
//   - fields built from columns the change did not carry (unchanged TOAST values) keep the stored
//     value (their paths travel with the write), never null; a context_id built from such a
//     column cannot be known, and the record is a dead letter saying how to fix the table.
import type { RowChange } from "../../connectors/types.ts";
import { MappingDataError, type CompiledMapping } from "../../mapping/compile.ts";
import { mappingFailure, type Mapped } from "../records.ts";

/** Paths of the fields that read an unchanged column (context_id excepted): their stored value is kept. */
export function keptPaths(mapper: CompiledMapping, unchanged: ReadonlySet<string>): string[][] {
  return mapper.steps.filter((s) => s.target !== "context_id" && s.reads.some((c) => unchanged.has(c))).map((s) => s.path);
}

export function mapChange(mappers: CompiledMapping[], change: RowChange, out: Mapped): void {
  const base = { entity: change.entity, position: change.order, cursor: change.cursor, key: change.key, key_columns: change.key_columns };
  for (const mapper of mappers) {
    try {
      if (change.kind === "delete") {
        out.writes.push({ ...base, context_type: mapper.contextType, context_id: mapper.contextId(change.row), data: null, deleted: true, payload: change.row, secret_id: mapper.secretId });
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
        if (oldId !== mapped.context_id) out.writes.push({ ...base, context_type: mapper.contextType, context_id: oldId, data: null, deleted: true, payload: change.before, secret_id: mapper.secretId });
      }
      out.writes.push({ ...mapped, ...base, deleted: false, keep: keep.length ? keep : undefined, payload: change.row, secret_id: mapper.secretId });
    } catch (e) {
      out.deadLetters.push(mappingFailure(e, base, mapper.contextType, change.row));
    }
  }
}
