// The ECM connector interface exactly as the specification writes it, with precise types.
// A connector is constructed by its registry entry, initialized with a validated config, and
// used by the web process (discovery, health, preview) and the worker (snapshot, CDC) alike.

/** A connection config of any registered connector type (see registry.ts), secrets as references. */
export type ConnectorConfig = import("./registry.ts").TConnectorConfig;

export type EntityKind = "table" | "partitioned_table" | "view" | "materialized_view";

export type EntityType = {
  /** Qualified name, `schema.table` (the `public.` prefix is kept: names are unambiguous). */
  name: string;
  schema: string;
  table: string;
  kind: EntityKind;
  primary_key: string[];
  row_estimate: number;
  /** Whether changes can be captured: a table (not a view) with a primary key or replica identity full. */
  cdc: boolean;
};

export type ColumnSchema = {
  name: string;
  /** Full type name as PostgreSQL prints it: `numeric(12,2)`, `text[]`, `order_status`, `character varying(40)`. */
  type: string;
  /** The base type for domains and the element type for arrays, for transforms that care. */
  base_type: string;
  nullable: boolean;
  primary_key_position?: number;
  is_array: boolean;
  is_enum: boolean;
};

export type EntitySchema = {
  name: string;
  schema: string;
  table: string;
  kind: EntityKind;
  columns: ColumnSchema[];
  primary_key: string[];
  /** default | full | index | nothing (PostgreSQL's REPLICA IDENTITY). */
  replica_identity: "default" | "full" | "index" | "nothing";
  row_estimate: number;
  cdc: boolean;
};

/** The JSON-compatible value of a column, with exact representations (see docs/types.md). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type SourceRecord = Record<string, JsonValue>;

export type ExtractOptions = {
  /** Rows per chunk (the spec's batch_size; default 1000). */
  batch_size?: number;
  /** Resume after this primary key (exclusive): the last key of the last checkpointed chunk, in
   * PostgreSQL's text form (exact for every key type). */
  after_key?: string[] | null;
  /** Stop after this many rows (previews, paged API). */
  limit?: number;
  /** Called after each chunk with its last key, so a caller can checkpoint it. */
  onChunk?: (chunk: { rows: number; last_key: string[] }) => Promise<void> | void;
};

/** A record in the shape the context store keeps. */
export type Context = {
  context_type: string;
  context_id: string;
  data: Record<string, JsonValue>;
  /** Where it came from, for lineage and for resuming. */
  source: { entity: string; key: string[]; cursor?: string | null };
};

export type ChangeOperation = "insert" | "update" | "delete";

export type ChangeEvent = {
  operation: ChangeOperation;
  entity: string;
  key: JsonValue[];
  /** The mapped context; for deletes only its type and id. */
  context: Context | null;
  /** `pg_lsn:X/Y` of the change's commit. */
  cursor: string;
  committed_at: string;
};

export type ConnectorCapabilities = {
  connector_type: string;
  snapshot: boolean;
  cdc: boolean;
  cursor_format: string;
  operations: ChangeOperation[];
  composite_keys: boolean;
  resumable_snapshot: boolean;
  max_batch_size: number;
};

export type CheckStatus = "pass" | "warn" | "fail";
export type HealthCheck = { name: string; status: CheckStatus; message: string; hint?: string };
export type HealthStatus = { status: "healthy" | "degraded" | "unhealthy"; checks: HealthCheck[] };

export interface ECMConnector {
  // Lifecycle
  initialize(config: ConnectorConfig): Promise<void>;
  shutdown(): Promise<void>;

  // Discovery
  listEntities(): Promise<EntityType[]>;
  describeEntity(type: string): Promise<EntitySchema>;

  // Extraction
  extractSnapshot(type: string, options: ExtractOptions): AsyncIterator<Context>;
  streamChanges(types: string[], cursor: string): AsyncIterator<ChangeEvent>;

  // Metadata
  getCapabilities(): ConnectorCapabilities;
  healthCheck(): Promise<HealthStatus>;
}

export function overallHealth(checks: HealthCheck[]): HealthStatus["status"] {
  if (checks.some((c) => c.status === "fail")) return "unhealthy";
  if (checks.some((c) => c.status === "warn")) return "degraded";
  return "healthy";
}
