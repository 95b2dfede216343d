// Checks a mapping document against the discovered schema before it is saved. Every problem is
// reported at its field path (mappings[0].fields[2].source); a document with any problem is not
// saved.
import type { EntitySchema } from "../connectors/types.ts";
import type { FieldIssue } from "../errors/app-error.ts";
import { transformChain, type TMappingDocument } from "./spec.ts";
import { TRANSFORMS, type TransformEnv, type ValueKind } from "./transforms.ts";

export type SchemaLookup = (table: string) => EntitySchema | null;

export function validateMapping(doc: TMappingDocument, lookup: SchemaLookup, env: TransformEnv = {}): FieldIssue[] {
  const issues: FieldIssue[] = [];
  let unlisted = 0;
  const add = (issue: FieldIssue) => void (issues.length < MAX_ISSUES ? issues.push(issue) : unlisted++);
  const seenPairs = new Map<string, number>();
  const cursors = new Map<string, { cursor: string; index: number }>();
  doc.mappings.forEach((m, mi) => {
    const at = `mappings[${mi}]`;
    const entity = lookup(m.source.table);
    if (!entity) {
      add({ path: `${at}.source.table`, message: `no table or view named "${m.source.table}" in the source` });
      return;
    }
    if (entity.primary_key.length === 0) {
      add({
        path: `${at}.source.table`,
        message:
          entity.kind === "view" || entity.kind === "materialized_view"
            ? `"${m.source.table}" is a ${entity.kind.replace("_", " ")}: it has no key to read it in resumable order by, or to match its changes with, so it cannot be snapshotted, streamed or synced incrementally. Map the tables it reads instead`
            : `"${m.source.table}" has no primary key; snapshots, change capture and incremental sync read and match rows by it. Add one (ALTER TABLE … ADD PRIMARY KEY)`,
      });
    }
    const pair = `${m.source.table}→${m.target.context_type}`;
    if (seenPairs.has(pair)) add({ path: `${at}.target.context_type`, message: `${pair} is already mapped by mappings[${seenPairs.get(pair)}]` });
    seenPairs.set(pair, mi);

    const columns = new Map(entity.columns.map((c) => [c.name, c]));
    checkCursor(m, at, columns, cursors, add);
    if (m.source.soft_delete !== undefined) {
      const col = columns.get(m.source.soft_delete);
      if (!col) add({ path: `${at}.source.soft_delete`, message: `no column "${m.source.soft_delete}" in ${m.source.table}; columns: ${columnList(columns)}` });
      else if (!["time", "boolean", "number", "text"].includes(col.kind) || col.is_array) {
        add({ path: `${at}.source.soft_delete`, message: `"${col.name}" is ${col.type}: a soft-delete column is a time (deleted_at), a flag (is_deleted) or a number or text flag` });
      }
    }
    const targets = new Map<string, number>();
    const parents = new Map<string, { target: string; index: number }>();
    m.fields.forEach((f, fi) => {
      const fat = `${at}.fields[${fi}]`;
      const chain = transformChain(f);
      const first = chain[0] ? TRANSFORMS.get(chain[0].name) : undefined;
      let kind: ValueKind | "any" = "any";
      if (f.source === undefined) {
        if (!first || first.needsSource) add({ path: `${fat}.source`, message: "source column is required (only constant and template make a value without one)" });
      } else {
        const col = columns.get(f.source);
        if (!col) {
          add({ path: `${fat}.source`, message: `no column "${f.source}" in ${m.source.table}; columns: ${columnList(columns)}` });
        } else kind = col.kind;
      }

      const prior = targets.get(f.target);
      if (prior !== undefined) add({ path: `${fat}.target`, message: `${f.target} is already mapped by fields[${prior}]` });
      // Prefix conflicts in O(depth) per field (a mapping may have hundreds of fields): a proper
      // prefix of this target already mapped as a value, or this target already a parent of one.
      const conflict = (other: string, oi: number) =>
        add({ path: `${fat}.target`, message: `${f.target} conflicts with ${other} (fields[${oi}]): a path cannot be both a value and an object` });
      const segments = f.target.split(".");
      for (let d = 1; d < segments.length; d++) {
        const prefix = segments.slice(0, d).join(".");
        const oi = targets.get(prefix);
        if (oi !== undefined) conflict(prefix, oi);
      }
      const child = parents.get(f.target);
      if (child) conflict(child.target, child.index);
      for (let d = 1; d < segments.length; d++) {
        const prefix = segments.slice(0, d).join(".");
        if (!parents.has(prefix)) parents.set(prefix, { target: f.target, index: fi });
      }
      if (prior === undefined) targets.set(f.target, fi);

      const single = !Array.isArray(f.transform);
      chain.forEach((t, ti) => {
        const tat = single ? `${fat}.transform` : `${fat}.transform[${ti}]`;
        const def = TRANSFORMS.get(t.name);
        if (!def) {
          add({ path: tat, message: `unknown transform "${t.name}"; available: ${[...TRANSFORMS.keys()].join(", ")}` });
          kind = "any";
          return;
        }
        const args = def.args.safeParse(t.args);
        if (!args.success) {
          for (const i of args.error.issues) add({ path: `${tat}${i.path.length ? "." + i.path.join(".") : ""}`, message: i.message });
        } else {
          try {
            def.compile(args.data, env);
          } catch (e) {
            add({ path: tat, message: (e as Error).message });
          }
        }
        if (def.accepts !== "any" && kind !== "any" && !def.accepts.includes(kind)) {
          add({ path: tat, message: `${t.name} cannot take ${kind} values (${f.source ?? "input"}); it takes ${def.accepts.join(", ")}` });
        }
        if (def.name === "template" && args.success) {
          for (const [, name] of String(args.data.template).matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
            if (!columns.has(name!)) add({ path: `${tat}.template`, message: `no column "${name}" in ${m.source.table}` });
          }
        }
        kind = def.produces === "same" ? kind : def.produces;
      });
    });
    if (!targets.has("context_id")) add({ path: `${at}.fields`, message: "map a column to context_id: it identifies each context" });
  });
  // However many problems a document has, the answer stays small: the first MAX_ISSUES.
  return unlisted ? [...issues, { path: "mappings", message: `${unlisted} more problems not listed; fix these first` }] : issues;
}

const MAX_ISSUES = 100;

/**
 * An incremental cursor: columns of the table, a modification time first (a run's upper bound
 * trails the source's clock), the others orderable; every mapping of one table names the same.
 */
function checkCursor(
  m: TMappingDocument["mappings"][number],
  at: string,
  columns: Map<string, EntitySchema["columns"][number]>,
  cursors: Map<string, { cursor: string; index: number }>,
  add: (issue: FieldIssue) => void,
) {
  const cursor = m.source.cursor ?? [];
  const key = JSON.stringify(cursor);
  const other = cursors.get(m.source.table);
  const index = Number(at.slice("mappings[".length, -1));
  if (other && other.cursor !== key) add({ path: `${at}.source.cursor`, message: `mappings[${other.index}] reads ${m.source.table} with another cursor: every mapping of a table names the same cursor columns` });
  else if (!other) cursors.set(m.source.table, { cursor: key, index });
  const seen = new Set<string>();
  cursor.forEach((name, i) => {
    const path = `${at}.source.cursor[${i}]`;
    const col = columns.get(name);
    if (seen.has(name)) return add({ path, message: `"${name}" is named twice` });
    seen.add(name);
    if (!col) return add({ path, message: `no column "${name}" in ${m.source.table}; columns: ${columnList(columns)}` });
    if (i === 0 && !col.clock) {
      add({ path, message: `"${name}" is ${col.type}: the first cursor column must be a modification time (a timestamp or date the writer sets), since a run's upper bound trails the source's clock` });
    } else if (i > 0 && (!ORDERABLE_KINDS.has(col.kind) || col.is_array || col.is_enum)) {
      add({ path, message: `"${name}" is ${col.type}, which cannot order rows the same way in the database and in a page's bound: use a time or number column` });
    } else if (i > 0 && col.nullable) {
      add({ path, message: `"${name}" may be NULL: a cursor column after the first orders rows that share a time, so it must be NOT NULL (the key orders them anyway)` });
    }
  });
}
// Text is left out: a collation (or MySQL's ENUM order) may order rows unlike the bound compares them.
const ORDERABLE_KINDS = new Set(["time", "number"]);

/** The columns a user could have meant, bounded (a table may have 1,600). */
function columnList(columns: Map<string, unknown>): string {
  const names = [...columns.keys()];
  return names.length > 20 ? `${names.slice(0, 20).join(", ")}, … (${names.length} in all)` : names.join(", ");
}
