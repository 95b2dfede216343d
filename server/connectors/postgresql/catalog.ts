// Discovery: tables, partitioned tables and views across schemas, with columns, full type names,
// keys, replica identity and row estimates, read from the system catalog.
import type pg from "pg";
import { AppError } from "../../errors/app-error.ts";
import type { ColumnKind, ColumnSchema, EntityKind, EntitySchema, EntityType } from "../types.ts";

const KINDS: Record<string, EntityKind> = { r: "table", p: "partitioned_table", v: "view", m: "materialized_view" };
const IDENTITY = { d: "default", f: "full", i: "index", n: "nothing" } as const;

/** Entities in `public` are named by table alone (as the spec's mappings write them), others `schema.table`. */
export function entityName(schema: string, table: string) {
  return schema === "public" ? table : `${schema}.${table}`;
}

const ENTITIES_SQL = `
SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS table, c.relkind AS kind, c.relreplident AS identity,
  CASE WHEN c.relkind = 'p'
       THEN (SELECT coalesce(sum(greatest(ch.reltuples, 0)), 0) FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid WHERE i.inhparent = c.oid)
       ELSE greatest(c.reltuples, 0) END::float8 AS estimate,
  coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord)
     FROM pg_index ix CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum
     WHERE ix.indrelid = c.oid AND ix.indisprimary), '{}') AS pk
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'`;

type EntityRow = { oid: number; schema: string; table: string; kind: string; identity: keyof typeof IDENTITY; estimate: number; pk: string[] };

function cdcPossible(row: EntityRow) {
  return (row.kind === "r" || row.kind === "p") && (row.pk.length > 0 || row.identity === "f");
}

function toEntityType(row: EntityRow): EntityType {
  return {
    name: entityName(row.schema, row.table),
    schema: row.schema,
    table: row.table,
    kind: KINDS[row.kind]!,
    primary_key: row.pk,
    row_estimate: Math.round(row.estimate),
    cdc: cdcPossible(row),
  };
}

export async function listEntities(client: pg.Client): Promise<EntityType[]> {
  const { rows } = await client.query<EntityRow>(`${ENTITIES_SQL} ORDER BY n.nspname = 'public' DESC, n.nspname, c.relname`);
  return rows.map(toEntityType);
}

export type DescribedEntity = Omit<EntitySchema, "columns"> & { oid: number; columns: (ColumnSchema & { type_oid: number })[] };

export async function describeEntity(client: pg.Client, name: string): Promise<DescribedEntity> {
  const [schema, table] = name.includes(".") ? (name.split(".", 2) as [string, string]) : ["public", name];
  const found = await client.query<EntityRow>(`${ENTITIES_SQL} AND n.nspname = $1 AND c.relname = $2`, [schema, table]);
  const row = found.rows[0];
  if (!row) {
    throw new AppError("NOT_FOUND", `entity ${name} not found (looked for table or view "${schema}"."${table}")`, { category: "CONFIGURATION" });
  }
  const cols = await client.query<{ name: string; type: string; type_oid: number; nullable: boolean; typtype: string; category: string; base_type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.atttypid::int AS type_oid, NOT a.attnotnull AS nullable,
            t.typtype AS typtype, t.typcategory AS category,
            format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END, NULL) AS base_type
     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [row.oid],
  );
  const columns = cols.rows.map((c) => {
    const position = row.pk.indexOf(c.name);
    return {
      name: c.name,
      type: c.type,
      type_oid: c.type_oid,
      base_type: c.base_type,
      nullable: c.nullable,
      ...(position >= 0 ? { primary_key_position: position + 1 } : {}),
      is_array: c.category === "A",
      is_enum: c.typtype === "e",
      kind: kindOfType(c.base_type, c.category === "A"),
      ...(CLOCK_TYPES.has(c.base_type) && c.category !== "A" ? { clock: true } : {}),
    };
  });
  const identity = IDENTITY[row.identity];
  return {
    ...toEntityType(row),
    oid: row.oid,
    columns,
    replica_identity: identity,
    old_row: identity === "full" ? "whole" : identity === "nothing" ? "none" : "key",
    old_row_fix: `ALTER TABLE ${row.schema === "public" ? quoteIdent(row.table) : `${quoteIdent(row.schema)}.${quoteIdent(row.table)}`} REPLICA IDENTITY FULL`,
  };
}

/** The column types incremental sync can bound with the server's clock (incremental.ts); those without a zone hold a wall clock. */
export const CLOCK_TYPES = new Set(["timestamp with time zone", "timestamp without time zone", "date"]);

/** The kind of value a PostgreSQL type holds (its base type for domains, elements for arrays). */
export function kindOfType(baseType: string, isArray: boolean): ColumnKind {
  if (isArray) return "array";
  if (/^(smallint|integer|bigint|numeric|real|double precision|oid)/.test(baseType)) return "number";
  if (baseType === "boolean") return "boolean";
  if (baseType === "json" || baseType === "jsonb") return "json";
  if (/^(date|timestamp|time)/.test(baseType)) return "time";
  if (baseType === "bytea") return "bytes";
  return "text";
}

const quoteIdent = (id: string) => (/^[a-z_][a-z0-9_]*$/.test(id) ? id : `"${id.replaceAll('"', '""')}"`);
