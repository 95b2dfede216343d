// Discovery from information_schema: the source's database is one MySQL schema, so an entity is a
// table or view of it, named as it is (`items`). Columns carry their decoder (values.ts), so the
// snapshot and the binlog decode each one the same way.
import type mysql from "mysql2/promise";
import { AppError } from "../../errors/app-error.ts";
import type { ColumnSchema, EntitySchema, EntityType } from "../types.ts";
import { decoderFor, type Decoder, type MysqlColumn } from "./values.ts";

/** A described entity with what the connector itself needs (decoders, row image). */
/** The column types incremental sync can bound with the server's clock (incremental.ts); DATETIME and DATE hold a wall clock. */
export const CLOCK_TYPES = new Set(["timestamp", "datetime", "date"]);

export type DescribedEntity = EntitySchema & { decoders: Decoder[]; mysqlColumns: MysqlColumn[] };

/** An identifier, quoted (names are checked against the catalog before they are used). */
export const q = (name: string) => "`" + name.replaceAll("`", "``") + "`";

type Row = Record<string, string | null>;

/** Rows of a catalog query, every value as text (the connection decodes nothing itself). */
export async function textRows(c: mysql.Connection, sql: string, params: unknown[] = []): Promise<Row[]> {
  const [rows] = await c.query({ sql, values: params });
  return (rows as Record<string, Buffer | null>[]).map((r) => {
    const out: Row = Object.create(null);
    for (const [k, v] of Object.entries(r)) out[k] = v === null ? null : Buffer.isBuffer(v) ? v.toString("utf8") : String(v);
    return out;
  });
}

const KIND = new Map<string, EntityType["kind"]>([
  ["BASE TABLE", "table"],
  ["SYSTEM VERSIONED", "table"],
  ["VIEW", "view"],
]);

export async function listEntities(c: mysql.Connection, database: string): Promise<EntityType[]> {
  const tables = await textRows(
    c,
    `SELECT t.TABLE_NAME AS name, t.TABLE_TYPE AS type, t.TABLE_ROWS AS estimate,
            (SELECT GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR '\\0') FROM information_schema.KEY_COLUMN_USAGE k
              WHERE k.TABLE_SCHEMA = t.TABLE_SCHEMA AND k.TABLE_NAME = t.TABLE_NAME AND k.CONSTRAINT_NAME = 'PRIMARY') AS pk
     FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = ? ORDER BY t.TABLE_NAME`,
    [database],
  );
  return tables.map((t) => {
    const kind = KIND.get(t.type ?? "") ?? "table";
    const primary_key = t.pk ? t.pk.split("\0") : [];
    return { name: t.name!, schema: database, table: t.name!, kind, primary_key, row_estimate: Number(t.estimate ?? 0), cdc: kind === "table" && primary_key.length > 0 };
  });
}

export async function describeEntity(c: mysql.Connection, database: string, name: string, rowImage: string): Promise<DescribedEntity> {
  const [table] = await textRows(c, "SELECT TABLE_TYPE AS type, TABLE_ROWS AS estimate FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", [database, name]);
  if (!table) throw AppError.notFound(`entity ${name}`);
  const columns = await textRows(
    c,
    `SELECT c.COLUMN_NAME AS name, c.DATA_TYPE AS data_type, c.COLUMN_TYPE AS column_type, c.IS_NULLABLE AS nullable, c.NUMERIC_PRECISION AS num_precision,
            (SELECT k.ORDINAL_POSITION FROM information_schema.KEY_COLUMN_USAGE k
              WHERE k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY') AS pk_position
     FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION`,
    [database, name],
  );
  // MariaDB's JSON is LONGTEXT with a json_valid() check named after its column.
  const jsonChecks = new Set(
    (await textRows(c, "SELECT CONSTRAINT_NAME AS name, CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?", [database, name]).catch(() => []))
      .filter((r) => /^json_valid\(`.*`\)$/i.test(r.clause ?? ""))
      .map((r) => r.name),
  );
  const mysqlColumns: MysqlColumn[] = columns.map((col) => ({
    name: col.name!,
    dataType: col.data_type!.toLowerCase(),
    columnType: col.column_type!,
    json: col.data_type!.toLowerCase() === "json" || (col.data_type!.toLowerCase() === "longtext" && jsonChecks.has(col.name!)),
    bits: Number(col.num_precision ?? 1),
  }));
  const decoders = mysqlColumns.map(decoderFor);
  const schemaColumns: ColumnSchema[] = columns.map((col, i) => ({
    name: col.name!,
    kind: decoders[i]!.kind,
    type: mysqlColumns[i]!.json ? "json" : col.column_type!,
    base_type: col.data_type!.toLowerCase(),
    nullable: col.nullable === "YES",
    ...(col.pk_position ? { primary_key_position: Number(col.pk_position) } : {}),
    is_array: col.data_type === "set",
    is_enum: col.data_type === "enum",
    ...(CLOCK_TYPES.has(col.data_type!.toLowerCase()) ? { clock: true } : {}),
  }));
  const primary_key = schemaColumns.filter((s) => s.primary_key_position).sort((a, b) => a.primary_key_position! - b.primary_key_position!).map((s) => s.name);
  const kind = KIND.get(table.type ?? "") ?? "table";
  // binlog_row_image FULL: an update's and a delete's event carry the whole old row; MINIMAL the key.
  const whole = rowImage.toUpperCase() === "FULL";
  return {
    name,
    schema: database,
    table: name,
    kind,
    columns: schemaColumns,
    primary_key,
    replica_identity: whole ? "full" : "default",
    old_row: whole ? "whole" : primary_key.length ? "key" : "none",
    old_row_fix: "SET GLOBAL binlog_row_image = 'FULL' (and in the server's configuration file)",
    row_estimate: Number(table.estimate ?? 0),
    cdc: kind === "table" && primary_key.length > 0,
    decoders,
    mysqlColumns,
  };
}
