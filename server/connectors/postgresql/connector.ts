// The PostgreSQL connector: the spec's ECMConnector over the modules beside it.
import type pg from "pg";
import { AppError } from "../../errors/app-error.ts";
import { logger } from "../../logger.ts";
import type {
  ChangeEvent,
  ConnectorCapabilities,
  ConnectorConfig,
  Context,
  ECMConnector,
  EntitySchema,
  EntityType,
  ExtractOptions,
  HealthStatus,
} from "../types.ts";
import { describeEntity, listEntities, type DescribedEntity } from "./catalog.ts";
import { ZPostgresConfig, type TPostgresConfig } from "./config.ts";
import { connect, connectionConfig, replicationNames, type ConnectPolicies } from "./connection.ts";
import { ensureCapture, slotInfo, syncPublication, type CaptureState, type SlotInfo } from "./capture.ts";
import { ReplicationSession, type ReplicationHandlers } from "./replication.ts";
import { healthCheck } from "./health.ts";
import { readByKeys, readSnapshot, type SnapshotChunk } from "./snapshot.ts";
import { TYPE_CATALOG_SQL, ValueParsers, typeMap, type PgTypeInfo } from "./values.ts";

const log = logger("connector.postgresql");

export const POSTGRES_CAPABILITIES: ConnectorCapabilities = {
  connector_type: "postgresql",
  snapshot: true,
  cdc: true,
  cursor_format: "pg_lsn:X/Y",
  operations: ["insert", "update", "delete"],
  composite_keys: true,
  resumable_snapshot: true,
  max_batch_size: 100_000,
};

export type PostgresConnectorContext = { sourceId: string; policies?: ConnectPolicies; mappedTables?: string[] };

export class PostgresConnector implements ECMConnector {
  private config?: TPostgresConfig;
  private client?: pg.Client;
  private parsers?: ValueParsers;
  private readonly entities = new Map<string, DescribedEntity>();

  constructor(private readonly context: PostgresConnectorContext) {}

  /** Validates the config only; connections open on first use (Conduit's configure/open split). */
  async initialize(config: ConnectorConfig): Promise<void> {
    this.config = ZPostgresConfig.parse(config);
  }

  async shutdown(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.entities.clear();
    await client?.end().catch(() => {});
  }

  getCapabilities(): ConnectorCapabilities {
    return POSTGRES_CAPABILITIES;
  }

  healthCheck(): Promise<HealthStatus> {
    const names = replicationNames(this.context.sourceId);
    return healthCheck(this.requireConfig(), { ...names, tables: this.context.mappedTables ?? [] }, this.context.policies);
  }

  async listEntities(): Promise<EntityType[]> {
    return listEntities(await this.connection());
  }

  async describeEntity(type: string): Promise<EntitySchema> {
    const { oid: _oid, ...entity } = await this.describe(type);
    return { ...entity, columns: entity.columns.map(({ type_oid: _t, ...c }) => c) };
  }

  /**
   * Sets up change capture for these entities (publication, then slot) unless the source is
   * snapshot-only. Snapshot runs call it before their first read; previews never do.
   */
  async prepareCapture(types: string[], opts: { replaceLostSlot?: boolean } = {}): Promise<CaptureState | null> {
    if (!this.capturesChanges()) return null;
    const entities = await Promise.all(types.map((t) => this.describe(t)));
    const state = await ensureCapture(await this.connection(), replicationNames(this.context.sourceId), entities, opts);
    if (state.slot_created) log.info("replication slot created before the snapshot", { source_id: this.context.sourceId, lsn: state.slot_lsn });
    return state;
  }

  capturesChanges(): boolean {
    return this.requireConfig().options.change_tracking === "cdc";
  }

  /** Publication holds exactly these entities (the mapped ones); returns what changed. */
  async syncPublication(types: string[]) {
    const entities = await Promise.all(types.map((t) => this.describe(t)));
    return syncPublication(await this.connection(), replicationNames(this.context.sourceId), entities);
  }

  /** The slot as the source sees it: existence, activity, wal_status, retained WAL and lag. */
  async slotInfo(): Promise<SlotInfo> {
    return slotInfo(await this.connection(), replicationNames(this.context.sourceId).slot);
  }

  /** Ends the backend that holds our slot (a stale owner's session); only a lease holder calls it. */
  async terminateSlotHolder(pid: number): Promise<void> {
    await (await this.connection()).query("SELECT pg_terminate_backend($1)", [pid]);
  }

  /** A replication session on this source's slot and publication (secret resolved here, like connect()). */
  async replicationSession(handlers: ReplicationHandlers): Promise<ReplicationSession> {
    const config = this.requireConfig();
    let clientConfig = await connectionConfig(config, this.context.policies, { application_name: "ecm-connect-stream" });
    // ssl_mode "prefer" fell back to plain text for the ordinary connection: do the same here.
    const plain = (await this.connection()) as unknown as { ssl?: unknown };
    if (config.connection.ssl_mode === "prefer" && !plain.ssl) clientConfig = { ...clientConfig, ssl: false };
    return new ReplicationSession(clientConfig, replicationNames(this.context.sourceId), handlers);
  }

  /** The catalog view of an entity, with column type oids (for the value parsers). */
  entity(type: string): Promise<DescribedEntity> {
    return this.describe(type);
  }

  /** Snapshot chunks with raw records and keys, for the pipeline that maps and checkpoints them. */
  async *snapshotChunks(type: string, options: ExtractOptions = {}): AsyncGenerator<SnapshotChunk> {
    const client = await this.connection();
    const entity = await this.describe(type);
    yield* readSnapshot(client, entity, await this.valueParsers(), {
      batchSize: options.batch_size ?? this.requireConfig().options.batch_size,
      afterKey: options.after_key ?? null,
      limit: options.limit,
    });
  }

  /** The current rows of an entity for these keys (text form), keyed by the key's JSON text. */
  async rowsByKey(type: string, keys: string[][]) {
    return readByKeys(await this.connection(), await this.describe(type), await this.valueParsers(), keys);
  }

  /**
   * The spec's extractSnapshot: every row of an entity as a Context, after change capture is set
   * up (for CDC sources). Without a mapping a row maps
   * to itself: context_type is the entity, context_id its key (joined with ":" when composite).
   */
  extractSnapshot(type: string, options: ExtractOptions): AsyncIterator<Context> {
    const self = this;
    return (async function* () {
      await self.prepareCapture([type]); // before the first read: nothing committed meanwhile is missed
      for await (const chunk of self.snapshotChunks(type, options)) {
        for (let i = 0; i < chunk.records.length; i++) {
          const key = chunk.keys[i]!;
          yield { context_type: type, context_id: key.join(":"), data: chunk.records[i]!, source: { entity: type, key } };
        }
        await options.onChunk?.({ rows: chunk.records.length, last_key: chunk.last_key });
      }
    })();
  }

  streamChanges(_types: string[], _cursor: string): AsyncIterator<ChangeEvent> {
    throw new AppError("BAD_REQUEST", "change streaming is not available for PostgreSQL sources yet (getCapabilities().cdc is false)", {
      category: "CONFIGURATION",
    });
  }

  private requireConfig(): TPostgresConfig {
    if (!this.config) throw new Error("connector used before initialize()");
    return this.config;
  }

  private async connection(): Promise<pg.Client> {
    this.client ??= await connect(this.requireConfig(), this.context.policies);
    return this.client;
  }

  private async describe(type: string): Promise<DescribedEntity> {
    let entity = this.entities.get(type);
    if (!entity) {
      entity = await describeEntity(await this.connection(), type);
      this.entities.set(type, entity);
    }
    return entity;
  }

  async valueParsers(): Promise<ValueParsers> {
    if (!this.parsers) {
      const { rows } = await (await this.connection()).query<PgTypeInfo>(TYPE_CATALOG_SQL);
      this.parsers = new ValueParsers(typeMap(rows), (message) => log.warn(message, { source_id: this.context.sourceId }));
    }
    return this.parsers;
  }
}
