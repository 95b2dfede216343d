// The PostgreSQL connector: the spec's ECMConnector over the modules beside it.
import type pg from "pg";
import { logger } from "../../logger.ts";
import type {
  ChangeEvent,
  ChangeOperation,
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
import { dropCapture, ensureCapture, slotInfo, syncPublication, type CaptureState, type SlotInfo } from "./capture.ts";
import { decodeTuple, ReplicationSession, type ReplicationHandlers } from "./replication.ts";
import { lsnCursor, parseLsnCursor } from "./lsn.ts";
import { entityName } from "./catalog.ts";
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

  /** Deleted rows' contexts are removed from the store, not kept as tombstones (options.deletes). */
  hardDeletes(): boolean {
    return this.requireConfig().options.deletes === "hard";
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

  /** Removes this source's slot and publication from the source (the source is being deleted). */
  async dropCapture() {
    return dropCapture(await this.connection(), replicationNames(this.context.sourceId));
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

  /**
   * The spec's streamChanges: committed changes of these entities from `cursor` (pg_lsn:X/Y; the
   * slot's confirmed position when older), one ChangeEvent per row change, delivered when its
   * transaction commits, each carrying the commit's end as the cursor to resume from. A row maps
   * to itself, as in extractSnapshot. This reads without confirming: the product's own stream
   * (pipeline/stream.ts) is what moves the slot, and only past what the store holds.
   */
  streamChanges(types: string[], cursor: string, options: { include?: ChangeOperation[]; signal?: AbortSignal } = {}): AsyncIterator<ChangeEvent> {
    const self = this;
    const from = parseLsnCursor(cursor);
    const wanted = new Set(types);
    const include = new Set(options.include ?? POSTGRES_CAPABILITIES.operations);
    return (async function* () {
      const parsers = await self.valueParsers();
      const ready: ChangeEvent[] = [];
      let tx: ChangeEvent[] = [];
      let settled = false;
      let failure: unknown = null;
      let wake = null as (() => void) | null;
      let drained = null as (() => void) | null;
      const notify = () => {
        wake?.();
        wake = null;
      };
      const session = await self.replicationSession({
        onMessage: async (m) => {
          if (m.tag === "insert" || m.tag === "update" || m.tag === "delete") {
            const entity = entityName(m.relation.schema, m.relation.name);
            if (!wanted.has(entity) || !include.has(m.tag)) return;
            const tuple = m.tag === "delete" ? (m.old ?? m.key ?? {}) : m.new;
            const { record } = decodeTuple(parsers, m.relation, tuple);
            const keyColumns = m.relation.keyColumns;
            const key = keyColumns.map((k) => record[k] ?? null);
            const id = keyColumns.map((k) => tuple[k] ?? "").join(":");
            tx.push({
              operation: m.tag,
              entity,
              key,
              context: { context_type: entity, context_id: id, data: m.tag === "delete" ? {} : record, source: { entity, key: keyColumns.map((k) => tuple[k] ?? "") } },
              cursor: "",
              committed_at: "",
            });
          } else if (m.tag === "commit") {
            const end = lsnCursor(m.endLsn);
            for (const e of tx) ready.push({ ...e, cursor: end, committed_at: m.commitTime.toISOString(), context: e.context && { ...e.context, source: { ...e.context.source, cursor: end } } });
            tx = [];
            notify();
            // Backpressure: the server waits while the consumer has a batch to take.
            if (ready.length >= 1000) await new Promise<void>((r) => (drained = r));
          }
        },
      });
      options.signal?.addEventListener("abort", () => void session.stop());
      const running = session.run(from).then(
        () => void (settled = true),
        (e) => {
          failure = e;
          settled = true;
        },
      );
      void running.finally(notify);
      try {
        for (;;) {
          const next = ready.shift();
          if (next) {
            if (ready.length < 500) {
              drained?.();
              drained = null;
            }
            yield next;
            continue;
          }
          if (settled) {
            if (failure) throw failure;
            return;
          }
          await new Promise<void>((r) => (wake = r));
        }
      } finally {
        drained?.();
        await session.stop();
      }
    })();
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
