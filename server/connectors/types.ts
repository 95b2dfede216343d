import { AppError } from "../errors/app-error.ts";
import type { JsonText } from "../json/json-text.ts";

// The ECM connector interface exactly as the specification writes it, with precise types.
// A connector is constructed by its registry entry, initialized with a validated config, and
// used by the web process (discovery, health, preview) and the worker (snapshot, CDC) alike.

/**
 * A connection config of a registered connector type, secrets as references: the spec's shape,
 * which each type's own schema refines (registry.ts derives the union of them for validation).
 */
export type ConnectorConfig = {
  connector_type: string;
  connection: Record<string, unknown>;
  authentication: Record<string, unknown>;
  options: { batch_size?: number; change_tracking?: string; [option: string]: unknown };
};

/** What a connector instance is created with (besides its config, given to initialize()). */
export type ConnectorContext = {
  /** The source it serves: names what it sets up on the source (slot, publication) and its logs. */
  sourceId: string;
  /** The operator's host and secret policies (defaults: the environment's). */
  policies?: { hosts?: import("./host-policy.ts").HostPolicy; secrets?: import("../secrets/resolve.ts").SecretPolicy };
  /** Tables the source's mapping reads (health checks look at their privileges). */
  mappedTables?: string[];
  /** The mapping's incremental cursors (health checks look for an index on each). */
  incrementalCursors?: { table: string; cursor: string[] }[];
};

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

/**
 * What kind of value a column holds, as the mapping's transforms see it (the connector decides it
 * from its own type names: PostgreSQL's `numeric`, MySQL's `DECIMAL`, …).
 */
export type ColumnKind = "text" | "number" | "boolean" | "json" | "time" | "array" | "bytes";

export type ColumnSchema = {
  name: string;
  kind: ColumnKind;
  /** Full type name as PostgreSQL prints it: `numeric(12,2)`, `text[]`, `order_status`, `character varying(40)`. */
  type: string;
  /** The base type for domains and the element type for arrays, for transforms that care. */
  base_type: string;
  nullable: boolean;
  primary_key_position?: number;
  is_array: boolean;
  is_enum: boolean;
  /** A point in time the source's clock can bound: it may be an incremental cursor's first column (docs/incremental.md). */
  clock?: boolean;
};

export type EntitySchema = {
  name: string;
  schema: string;
  table: string;
  kind: EntityKind;
  columns: ColumnSchema[];
  primary_key: string[];
  /** default | full | index | nothing (PostgreSQL's REPLICA IDENTITY; other types map theirs onto it). */
  replica_identity: "default" | "full" | "index" | "nothing";
  /**
   * What an update's or a delete's change carries of the old row: the whole row, the key only, or
   * nothing (its changes cannot be matched). The pipeline decides by this, never by a type's words.
   */
  old_row: "whole" | "key" | "none";
  /** What an operator does to make changes carry the whole old row (`ALTER TABLE … REPLICA IDENTITY FULL`). */
  old_row_fix: string;
  row_estimate: number;
  cdc: boolean;
};

/**
 * The JSON-compatible value of a column, with exact representations (see docs/types.md). A large
 * json value may be carried as its text (JsonText, json/json-text.ts): JSON.stringify gives its
 * document, and a transform gets it parsed.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue } | JsonText;
export type SourceRecord = Record<string, JsonValue>;

export type ExtractOptions = {
  /** Rows per chunk (the spec's batch_size; default 1000). */
  batch_size?: number;
  /** Resume after this key (exclusive): the last key of the last checkpointed chunk, in the
   * connector's exact text form. */
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
  /** The change's commit as the connector's cursor (its capabilities' cursor_format). */
  cursor: string;
  committed_at: string;
};

export type ConnectorCapabilities = {
  connector_type: string;
  snapshot: boolean;
  cdc: boolean;
  /** Incremental sync by a cursor column (incrementalBounds, readIncrementalChunks). */
  incremental: boolean;
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
  /** `options` (an extension): which operations to deliver, and a signal that ends the iteration. */
  streamChanges(types: string[], cursor: string, options?: { include?: ChangeOperation[]; signal?: AbortSignal }): AsyncIterator<ChangeEvent>;

  // Metadata
  getCapabilities(): ConnectorCapabilities;
  healthCheck(): Promise<HealthStatus>;

  // ---- Capabilities the specification is silent about (docs/connectors.md) ----
  // Optional: a connector declares what it can do by implementing them, and the pipeline asks
  // for each with requireCapability(). None of them may be reached any other way: this interface
  // is the pipeline's, the API's and the worker's only view of a source.

  /** Resumable snapshot: chunks in a stable order, each with the position to resume after. */
  readSnapshotChunks?(type: string, options: SnapshotReadOptions): AsyncIterable<SnapshotChunk>;
  /**
   * Incremental sync (docs/incremental.md): the bounds of a run's read of an entity, computed by
   * the source at the run's start. `upper` trails the source's clock by the lag; `lower` is the
   * previous run's upper bound less the look-back (null: no previous run).
   */
  incrementalBounds?(type: string, options: IncrementalBoundsOptions): Promise<IncrementalBounds>;
  /**
   * The rows whose first cursor column lies in (lower, upper], in resumable chunks ordered by the
   * cursor columns then the key, each page one statement (one consistent view of the table).
   * `resume_after` holds the last row's cursor values, then its key.
   */
  readIncrementalChunks?(type: string, options: IncrementalReadOptions): AsyncIterable<SnapshotChunk>;
  /** The current rows for these keys (text form, as chunks and changes give them), keyed by JSON of the key; absent rows are missing. */
  rowsByKey?(type: string, keys: string[][]): Promise<Map<string, SourceRecord>>;
  /**
   * Which of these keys (text form, as chunks give them) still name a row, matched by value in the
   * key columns' own types (reads key columns only), as the JSON of each asked key that does. Null:
   * this entity's keys cannot be matched by value (such as floating-point keys); an empty list
   * asks only that. A reconcile of deletes calls it (docs/incremental.md).
   */
  existingKeys?(type: string, keys: string[][]): Promise<Set<string> | null>;

  /**
   * Sets change capture up for these entities so that every change committing from now on will be
   * streamed (a snapshot calls it before its first read). An existing capture is kept (and made to
   * include these entities) unless `replace`: then it is dropped and made anew (a new capture
   * generation, docs/lifecycle.md). The pipeline decides, from captureStatus() and what it stored,
   * whether a capture may be created or replaced: a connector never does so by itself.
   */
  prepareCapture?(types: string[], options: { replace: boolean }): Promise<CaptureSetup>;
  /**
   * A stream's new owner takes the existing capture over: ends a stale reader still holding it and
   * makes the capture follow exactly these entities. Never creates one (prepareCapture does, when
   * the pipeline allows it). Called under the source's capture lock.
   */
  attachCapture?(types: string[]): Promise<{ added: string[]; removed: string[] }>;
  /** Removes from the source whatever change capture set up there (the source is being deleted). */
  dropCapture?(): Promise<{ removed: string[] }>;
  /** The capture as the source sees it (for status, lag and cursor checks). */
  captureStatus?(): Promise<CaptureStatus>;
  /**
   * Opens the change stream at `from` (a cursor of this connector's format; null: where the capture
   * stands). Nothing is acknowledged to the source except through ChangeStream.ack().
   */
  openChanges?(types: string[], from: string | null): Promise<ChangeStream>;
}

// ---- Types of the capabilities ----

export type SnapshotReadOptions = {
  batch_size?: number;
  /** Resume after this position (a chunk's `resume_after`; exclusive). */
  after?: string[] | null;
  /** Stop after this many rows (previews, paged API). */
  limit?: number;
};

export type IncrementalBoundsOptions = {
  cursor: string[];
  /** The configured lag (null: the connector decides it from the transactions the source shows open). */
  lag_seconds: number | null;
  /** Added to the oldest open transaction's age when the connector decides the lag. */
  lag_margin_seconds: number;
  lookback_seconds: number;
  /** The zone a cursor without one holds the wall clock of (null: the type's documented default). */
  time_zone: string | null;
  /** The previous completed run's upper bound (null: none). */
  previous_upper: string | null;
};

export type IncrementalBounds = {
  /** Inclusive, in the first cursor column's text form. */
  upper: string;
  /** Exclusive; null: from the first row. */
  lower: string | null;
  lag_seconds: number;
  /** Where the lag came from: the option, the oldest open transaction the source showed, or the default (the source shows none of other sessions'). */
  lag_from: "option" | "open_transactions" | "default";
};

export type IncrementalReadOptions = {
  cursor: string[];
  lower: string | null;
  upper: string;
  batch_size?: number;
  /** Resume after this position (a chunk's `resume_after`; exclusive). */
  after?: string[] | null;
};

export type SnapshotChunk = {
  records: SourceRecord[];
  /** Each record's key in its exact text form (what dead letters keep and rowsByKey takes). */
  keys: string[][];
  /** The key's column names, in the order of each key's values. */
  key_columns: readonly string[];
  /** Opaque to the pipeline: checkpointed with the chunk, handed back as `after` to resume. */
  resume_after: string[];
};

export type CaptureSetup = {
  /** True when the capture was created now (a cursor of an earlier capture means nothing any more). */
  created: boolean;
  /** The cursor from which the capture delivers every later commit. */
  start: string;
  /** What identifies the server and database the capture is on (CaptureStatus.server). */
  server: string;
};

export type CaptureStatus = {
  /** The capture's name on the source, for messages (PostgreSQL: `replication slot ecm_slot_…`). */
  name: string;
  /**
   * What identifies the server and database being read, stable across restarts and changed by a
   * move to another server (PostgreSQL: system identifier and database OID). A server with no
   * identity of its own gives its connection's (host, port, database): a changed config is then
   * what tells a move.
   */
  server: string;
  exists: boolean;
  active: boolean | null;
  /** The source no longer keeps what the capture needs: only a full re-snapshot recovers. */
  lost: boolean;
  /** The source's own word for the capture's state (PostgreSQL: wal_status). */
  state: string | null;
  /** What the source was last told is durable. */
  confirmed_cursor: string | null;
  /** Where the source's change log ends now. */
  current_cursor: string;
  /**
   * The oldest cursor the source's log still holds, where the source keeps its log for no one in
   * particular (MySQL's binlogs): a stored cursor before it is lost. Null where the capture itself
   * holds what it needs (a replication slot).
   */
  oldest_cursor?: string | null;
  /** Change log the source retains for the capture (bytes). */
  retained_bytes: number | null;
  /** Change log written since the confirmed cursor (bytes). */
  lag_bytes: number | null;
};

/**
 * A change stream: committed changes in commit order, read by iterating; each step hands out the
 * changes received so far (at least one) as an array. Changes of a transaction are followed by
 * its `commit`, whose cursor is the position to resume after; the pipeline makes the changes up to
 * a commit durable, then acknowledges that cursor (and nothing else).
 */
export interface ChangeStream extends AsyncIterable<SourceChange[]> {
  /** Everything before `cursor` is durable: the source may release it. */
  ack(cursor: string): Promise<void>;
  /** Asks the source for a sign of life (answered with a `commit` heartbeat when idle). */
  ping(): Promise<void>;
  /** Ends the iteration (a pending read returns done); safe to call twice. */
  close(): Promise<void>;
}

export type RowChange = {
  kind: ChangeOperation;
  entity: string;
  /** The key in its exact text form. */
  key: string[];
  /** The key's column names (the primary key's, or what identifies the row without one). */
  key_columns: readonly string[];
  /** The new row (insert, update) or what the source gives of the old one (delete). */
  row: SourceRecord;
  /** An update's old row or old key when the source sent one (the key may have changed). */
  before: SourceRecord | null;
  /** Columns whose value the change did not carry (unchanged TOAST): keep the stored value. */
  unchanged: ReadonlySet<string> | null;
  /** Store order: greater for every later change (see store/contexts.ts). */
  order: bigint;
  /** The commit's cursor (what dead letters and contexts record). */
  cursor: string;
};

export type SourceChange =
  | RowChange
  | { kind: "truncate"; entity: string; order: bigint; cursor: string }
  /**
   * The entity's columns as the stream decodes them from here on (after a change of schema), or,
   * with `seed`, as the catalog has them when the stream opens: a reference for an entity never
   * seen before, never compared (the log may still hold changes under older columns).
   */
  | { kind: "schema"; entity: string; columns: { name: string; type: string }[]; seed: boolean }
  /**
   * A transaction ended (or, with `committed_at` null, a heartbeat: nothing the stream delivers
   * lies before `cursor`). `more`: further changes were already received (a batching hint).
   */
  | { kind: "commit"; cursor: string; committed_at: Date | null; more: boolean };

/**
 * A connector type's cursors, owned by the connector (`pg_lsn:X/Y`, `mysql_binlog:file:pos`):
 * the pipeline stores them as text and compares them only through `order`.
 */
export type CursorCodec = {
  /** Human form for messages and docs: `pg_lsn:X/Y`. */
  format: string;
  /** Checks and normalises a cursor; a malformed one is a field-path error at `field`. */
  parse(cursor: string, field?: string): string;
  /**
   * The store order of a cursor: every change the stream delivers after it has a greater
   * `order`, and a snapshot row placed at it loses against each of them.
   */
  order(cursor: string): bigint;
};

type Capability = Exclude<keyof ECMConnector, "initialize" | "shutdown" | "listEntities" | "describeEntity" | "extractSnapshot" | "streamChanges" | "getCapabilities" | "healthCheck">;

/** The connector with `name` implemented, or a CONFIGURATION error saying this type cannot do it. */
export function requireCapability<C extends ECMConnector, K extends Capability>(connector: C, name: K, what: string): C & Required<Pick<ECMConnector, K>> {
  if (typeof connector[name] !== "function") {
    throw new AppError("BAD_REQUEST", `the ${connector.getCapabilities().connector_type} connector cannot ${what}`, { category: "CONFIGURATION" });
  }
  return connector as C & Required<Pick<ECMConnector, K>>;
}

export function overallHealth(checks: HealthCheck[]): HealthStatus["status"] {
  if (checks.some((c) => c.status === "fail")) return "unhealthy";
  if (checks.some((c) => c.status === "warn")) return "degraded";
  return "healthy";
}
