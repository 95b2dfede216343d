// The stream's schema guard: the columns of each mapped entity as last seen (or approved) are kept
// with the stream (known_schemas, "name type" signatures in the connector's own type notation).
// A change of columns is judged before anything is applied under it:
//   - a column the mapping reads was dropped → CONFIGURATION (the mapping must change first);
//   - policy "pause" → the stream pauses until an operator approves (SchemaPause);
//   - policy "continue" → recorded and logged, the stream goes on.
import { AppError } from "../../errors/app-error.ts";
import { bareObject } from "../../json/safe.ts";

export type SchemaChange = { entity: string; added: string[]; removed: string[] };

/** A schema change under the "pause" policy: the stream stops until an operator approves. */
export class SchemaPause extends Error {
  constructor(
    readonly change: SchemaChange,
    readonly columns: string[],
  ) {
    super(`columns of ${change.entity} changed at the source (added: ${change.added.join(", ") || "none"}; removed: ${change.removed.join(", ") || "none"}); the stream is paused until the change is approved`);
    this.name = "SchemaPause";
  }
}

export class SchemaGuard {
  // Keyed by entity (a source's table name): null-prototype, so no table name reaches a prototype.
  private readonly known: Record<string, string[]>;

  constructor(
    known: Record<string, string[]>,
    private readonly policy: "continue" | "pause",
    private readonly mappedColumns: (entity: string) => ReadonlySet<string>,
  ) {
    this.known = Object.assign(bareObject<string[]>(), known);
  }

  /**
   * Judges the entity's columns as the stream now decodes them. Returns the known schemas to
   * record when they changed (first sight included), null when nothing changed; throws when the
   * stream must not go on. A `seed` (the catalog's columns when the stream opens) is recorded for
   * an entity never seen and otherwise ignored: the log may still hold changes under the columns
   * last seen, and those are what the next change is judged against.
   */
  check(entity: string, columns: { name: string; type: string }[], seed = false): { known: Record<string, string[]>; change: SchemaChange | null } | null {
    const now = columns.map((c) => `${c.name} ${c.type}`);
    const before = this.known[entity];
    if (!before) {
      this.known[entity] = now;
      return { known: this.known, change: null };
    }
    if (seed) return null;
    const had = new Set(before);
    const added = now.filter((c) => !had.has(c));
    const removed = before.filter((c) => !now.includes(c));
    if (!added.length && !removed.length) return null;
    const names = new Set(columns.map((c) => c.name));
    const lostMapped = [...this.mappedColumns(entity)].filter((c) => !names.has(c));
    if (lostMapped.length) {
      throw new AppError(
        "BAD_REQUEST",
        `column ${lostMapped.join(", ")} of ${entity} was dropped at the source, but the mapping uses it: remove or change those fields in the mapping (or restore the column), then start the stream again`,
        { category: "CONFIGURATION" },
      );
    }
    const change = { entity, added: added.map(columnName), removed: removed.map(columnName) };
    if (this.policy === "pause") throw new SchemaPause(change, now);
    this.known[entity] = now;
    return { known: this.known, change };
  }
}

const columnName = (signature: string) => signature.slice(0, signature.lastIndexOf(" "));
