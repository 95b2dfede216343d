// The PostgreSQL connector: the spec's ECMConnector over the modules beside it.
import type pg from "pg";
import { logger } from "../../logger.ts";
import type {
  IncrementalBounds,
  IncrementalBoundsOptions,
  IncrementalReadOptions,
  CaptureSetup,
  CaptureStatus,
  ChangeEvent,
  ChangeOperation,
  ConnectorCapabilities,
  ConnectorConfig,
  ConnectorContext,
  Context,
  ECMConnector,
  EntitySchema,
  EntityType,
  ExtractOptions,
  HealthStatus,
  SnapshotChunk,
  SnapshotReadOptions,
} from "../types.ts";
import { describeEntity, listEntities, type DescribedEntity } from "./catalog.ts";
import { ZPostgresConfig, type TPostgresConfig } from "./config.ts";
import { connect, connectionConfig, replicationNames } from "./connection.ts";
import { dropCapture, ensureCapture, serverIdentity, slotInfo, syncPublication } from "./capture.ts";
import { PgChangeStream } from "./changes.ts";
import { ReplicationSession, type ReplicationHandlers } from "./replication.ts";
import { lsnCursor, parseLsn, parseLsnCursor } from "./lsn.ts";
import { connectError, healthCheck } from "./health.ts";
import { existingKeys, readByKeys, readSnapshot, requireKey } from "./snapshot.ts";
import { incrementalBounds } from "./incremental.ts";
import { incrementalOrder } from "../incremental.ts";
import { changeEventsOf, contextsOf } from "../spec-adapters.ts";
import { SharedConnection } from "../shared-connection.ts";
import { TYPE_CATALOG_SQL, ValueParsers, typeMap, type PgTypeInfo } from "./values.ts";

const log = logger("connector.postgresql");

export const POSTGRES_CAPABILITIES: ConnectorCapabilities = {
  connector_type: "postgresql",
  snapshot: true,
  cdc: true,
  incremental: true,
  cursor_format: "pg_lsn:X/Y",
  operations: ["insert", "update", "delete"],
  composite_keys: true,
  resumable_snapshot: true,
  max_batch_size: 100_000,
};

export class PostgresConnector implements ECMConnector {
  private config?: TPostgresConfig;
  /**
   * The connection, opened on first use. A failure to connect is said the way the health check
   * says it (which check fails, and what to do), with its category.
   */
  private readonly client = new SharedConnection<pg.Client>(async () => {
    const config = this.requireConfig();
    try {
      return await connect(config, this.context.policies);
    } catch (error) {
      throw connectError(error, config);
    }
  });
  /** The server's identity, asked once per connection (serverIdentity). */
  private identity?: Promise<string>;
  private parsers?: ValueParsers;
  private readonly entities = new Map<string, DescribedEntity>();

  constructor(private readonly context: ConnectorContext) {}

  /** Validates the config only; connections open on first use (Conduit's configure/open split). */
  async initialize(config: ConnectorConfig): Promise<void> {
    this.config = ZPostgresConfig.parse(config);
  }

  async shutdown(): Promise<void> {
    this.identity = undefined;
    this.entities.clear();
    await this.client.close();
  }

  getCapabilities(): ConnectorCapabilities {
    return POSTGRES_CAPABILITIES;
  }

  healthCheck(): Promise<HealthStatus> {
    const names = replicationNames(this.context.sourceId);
    return healthCheck(this.requireConfig(), { ...names, tables: this.context.mappedTables ?? [], cursors: this.context.incrementalCursors ?? [] }, this.context.policies);
  }

  async listEntities(): Promise<EntityType[]> {
    return listEntities(await this.connection());
  }

  async describeEntity(type: string): Promise<EntitySchema> {
    const { oid: _oid, ...entity } = await this.describe(type);
    return { ...entity, columns: entity.columns.map(({ type_oid: _t, ...c }) => c) };
  }

  /** Publication, then slot (its start is where the stream will deliver every later commit from). */
  async prepareCapture(types: string[], options: { replace: boolean }): Promise<CaptureSetup> {
    const entities = await this.describeAll(types);
    const client = await this.connection();
    const state = await ensureCapture(client, this.names(), entities, { replace: options.replace });
    if (state.slot_created) log.info({ source_id: this.context.sourceId, lsn: state.slot_lsn }, "replication slot created");
    const slot = await slotInfo(client, this.names().slot);
    return { created: state.slot_created, start: lsnCursor(parseLsn(slot.confirmed_flush_lsn ?? "0/0")), server: await this.serverIdentity() };
  }

  async attachCapture(types: string[]) {
    const client = await this.connection();
    const names = this.names();
    let slot = await slotInfo(client, names.slot);
    if (slot.active && slot.active_pid) {
      // The caller holds the stream's lease, so whoever still reads the slot is a stale session (a
      // dead worker's walsender that has not noticed yet, or a cut connection): end it instead of
      // waiting out the server's wal_sender_timeout.
      log.warn({ source_id: this.context.sourceId, pid: slot.active_pid }, "slot held by a stale session; terminating it");
      await client
        .query("SELECT pg_terminate_backend($1)", [slot.active_pid])
        .catch((error) => log.warn({ source_id: this.context.sourceId, error }, "could not end the stale session (needs the same role or pg_signal_backend); waiting for the server to"));
      for (let i = 0; i < 50 && slot.active; i++) {
        await new Promise((r) => setTimeout(r, 100));
        slot = await slotInfo(client, names.slot);
      }
    }
    const entities = await this.describeAll(types);
    return syncPublication(client, names, entities);
  }

  /**
   * System identifier and database OID. Where the server will not tell them (pg_control_system
   * revoked or missing: 42501, 42883), the connection's address stands in: a changed config is then
   * what tells a move. Any other error is the error (a blip must not look like another server).
   */
  private serverIdentity(): Promise<string> {
    // Asked once per connection: the stream's observer reads the capture's status every few seconds.
    this.identity ??= (async () => {
      try {
        return await serverIdentity(await this.connection());
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== "42501" && code !== "42883") {
          this.identity = undefined;
          throw error;
        }
        const c = this.requireConfig().connection;
        return `pg-conn:${c.host}:${c.port}/${c.database}`;
      }
    })();
    return this.identity;
  }

  async captureStatus(): Promise<CaptureStatus> {
    const info = await slotInfo(await this.connection(), this.names().slot);
    const cursor = (lsn: string | null) => (lsn ? lsnCursor(parseLsn(lsn)) : null);
    return {
      name: `replication slot ${this.names().slot}`,
      server: await this.serverIdentity(),
      exists: info.exists,
      active: info.active,
      lost: info.wal_status === "lost",
      state: info.wal_status,
      confirmed_cursor: cursor(info.confirmed_flush_lsn),
      current_cursor: cursor(info.current_lsn)!,
      retained_bytes: info.retained_bytes,
      lag_bytes: info.lag_bytes,
    };
  }

  /** Removes this source's slot and publication from the source (the source is being deleted). */
  async dropCapture() {
    const names = this.names();
    const dropped = await dropCapture(await this.connection(), names);
    return { removed: [...(dropped.slot ? [`replication slot ${names.slot}`] : []), ...(dropped.publication ? [`publication ${names.publication}`] : [])] };
  }

  openChanges(types: string[], from: string | null): Promise<PgChangeStream> {
    return this.open(types, from, { readOnly: false });
  }

  /** `readOnly`: a page reader's session, which confirms nothing at all (not even its start). */
  private async open(types: string[], from: string | null, options: { readOnly: boolean }): Promise<PgChangeStream> {
    const entities = new Map((await this.describeAll(types)).map((e, i) => [types[i]!, e] as const));
    const changes = new PgChangeStream(entities, await this.valueParsers(), from ? parseLsnCursor(from) : 0n);
    const session = await this.replicationSession({ onMessage: changes.onMessage, onKeepalive: changes.onKeepalive }, options);
    changes.start(session);
    return changes;
  }

  /** A replication session on this source's slot and publication (secret resolved here, like connect()). */
  private async replicationSession(handlers: ReplicationHandlers, options: { readOnly: boolean }): Promise<ReplicationSession> {
    const config = this.requireConfig();
    let clientConfig = await connectionConfig(config, this.context.policies, { application_name: "ecm-connect-stream" });
    // ssl_mode "prefer" fell back to plain text for the ordinary connection: do the same here.
    const plain = (await this.connection()) as unknown as { ssl?: unknown };
    if (config.connection.ssl_mode === "prefer" && !plain.ssl) clientConfig = { ...clientConfig, ssl: false };
    return new ReplicationSession(clientConfig, this.names(), handlers, options);
  }

  /** Snapshot chunks in primary-key order, each resumable after its last key (text form). */
  async *readSnapshotChunks(type: string, options: SnapshotReadOptions = {}): AsyncGenerator<SnapshotChunk> {
    const client = await this.connection();
    const entity = await this.describe(type);
    yield* readSnapshot(client, entity, await this.valueParsers(), {
      batchSize: options.batch_size ?? this.requireConfig().options.batch_size,
      afterKey: options.after ?? null,
      limit: options.limit,
    });
  }

  /** Incremental sync's bounds for a run, computed by the server at its start (./incremental.ts). */
  async incrementalBounds(type: string, options: IncrementalBoundsOptions): Promise<IncrementalBounds> {
    return incrementalBounds(await this.connection(), await this.describe(type), options);
  }

  /** The rows whose first cursor column lies in (lower, upper], in cursor-then-key order, resumable after each chunk's last row. */
  async *readIncrementalChunks(type: string, options: IncrementalReadOptions): AsyncGenerator<SnapshotChunk> {
    const client = await this.connection();
    const entity = await this.describe(type);
    const order = incrementalOrder(options.cursor, requireKey(entity));
    yield* readSnapshot(client, entity, await this.valueParsers(), {
      batchSize: options.batch_size ?? this.requireConfig().options.batch_size,
      afterKey: options.after ?? null,
      plan: { order, range: { column: options.cursor[0]!, lower: options.lower, upper: options.upper } },
    });
  }

  /** The current rows of an entity for these keys (text form), keyed by the key's JSON text. */
  async rowsByKey(type: string, keys: string[][]) {
    return readByKeys(await this.connection(), await this.describe(type), await this.valueParsers(), keys);
  }

  /** Which of these keys still name a row (a reconcile's check, keys only). */
  async existingKeys(type: string, keys: string[][]) {
    return existingKeys(await this.connection(), await this.describe(type), keys);
  }

  /**
   * The spec's extractSnapshot: every row of an entity as a Context. It reads only: change capture
   * is set up by the pipeline (prepareCapture), which alone may decide to create one (a capture
   * made here would silently start a new generation, docs/lifecycle.md). Without a mapping a row maps
   * to itself: context_type is the entity, context_id its key (joined with ":" when composite).
   */
  extractSnapshot(type: string, options: ExtractOptions): AsyncIterator<Context> {
    return contextsOf(type, this.readSnapshotChunks(type, { batch_size: options.batch_size, after: options.after_key, limit: options.limit }), options.onChunk);
  }

  /**
   * The spec's streamChanges: committed changes of these entities from `cursor` (pg_lsn:X/Y; the
   * slot's confirmed position when older), one ChangeEvent per row change, delivered when its
   * transaction commits, each carrying the commit's end as the cursor to resume from. A row maps
   * to itself, as in extractSnapshot. This reads without acknowledging: the product's own stream
   * (server/pipeline/stream/) is what moves the slot, and only past what the store holds.
   */
  streamChanges(types: string[], cursor: string, options: { include?: ChangeOperation[]; signal?: AbortSignal } = {}): AsyncIterator<ChangeEvent> {
    return changeEventsOf(() => this.open(types, cursor, { readOnly: true }), new Set(options.include ?? POSTGRES_CAPABILITIES.operations), (e) => this.entities.get(e)?.primary_key, options.signal);
  }

  private requireConfig(): TPostgresConfig {
    if (!this.config) throw new Error("connector used before initialize()");
    return this.config;
  }

  private connection(): Promise<pg.Client> {
    return this.client.get();
  }

  private names() {
    return replicationNames(this.context.sourceId);
  }

  /** One after another: one connection runs one statement at a time. */
  private async describeAll(types: string[]): Promise<DescribedEntity[]> {
    const described: DescribedEntity[] = [];
    for (const t of types) described.push(await this.describe(t));
    return described;
  }

  private async describe(type: string): Promise<DescribedEntity> {
    let entity = this.entities.get(type);
    if (!entity) {
      entity = await describeEntity(await this.connection(), type);
      this.entities.set(type, entity);
    }
    return entity;
  }

  private async valueParsers(): Promise<ValueParsers> {
    if (!this.parsers) {
      const { rows } = await (await this.connection()).query<PgTypeInfo>(TYPE_CATALOG_SQL);
      this.parsers = new ValueParsers(typeMap(rows), (message) => log.warn({ source_id: this.context.sourceId }, message));
    }
    return this.parsers;
  }
}

