// The MySQL / MariaDB connector: the spec's ECMConnector over the modules beside it. Change capture
// is the server's binlog itself: nothing is set up on the source, a capture starts at the binlog
// position read before the first snapshot read, and it is lost when the binlogs it needs are purged.
import crypto from "node:crypto";
import type mysql from "mysql2/promise";
import { AppError } from "../../errors/app-error.ts";
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
import { binlogCursor, MYSQL_CURSOR, parseBinlogCursor, type BinlogPosition } from "./binlog-cursor.ts";
import { describeEntity, listEntities, textRows, type DescribedEntity } from "./catalog.ts";
import { BinlogChangeStream } from "./changes.ts";
import { ZMysqlConfig, type TMysqlConfig } from "./config.ts";
import { binlogServerId, connect, connectionOptions } from "./connection.ts";
import { connectError, healthCheck } from "./health.ts";
import { incrementalBounds } from "./incremental.ts";
import { incrementalOrder } from "../incremental.ts";
import { existingKeys, readByKeys, readSnapshot } from "./snapshot.ts";
import { changeEventsOf, contextsOf } from "../spec-adapters.ts";
import { SharedConnection } from "../shared-connection.ts";

export const MYSQL_CAPABILITIES: ConnectorCapabilities = {
  connector_type: "mysql",
  snapshot: true,
  cdc: true,
  incremental: true,
  cursor_format: MYSQL_CURSOR.format,
  operations: ["insert", "update", "delete"],
  composite_keys: true,
  resumable_snapshot: true,
  max_batch_size: 100_000,
};

type Binlogs = { current: BinlogPosition; files: { name: string; size: number }[] };

export class MysqlConnector implements ECMConnector {
  private config?: TMysqlConfig;
  private readonly conn = new SharedConnection<mysql.Connection>(async () => {
    const config = this.requireConfig();
    try {
      return await connect(config, this.context.policies);
    } catch (error) {
      throw connectError(error, config);
    }
  });
  private identity?: Promise<string>;
  private rowImage?: Promise<string>;
  private readonly entities = new Map<string, DescribedEntity>();

  constructor(private readonly context: ConnectorContext) {}

  async initialize(config: ConnectorConfig): Promise<void> {
    this.config = ZMysqlConfig.parse(config);
  }

  async shutdown(): Promise<void> {
    this.identity = undefined;
    this.rowImage = undefined;
    this.entities.clear();
    await this.conn.close();
  }

  getCapabilities(): ConnectorCapabilities {
    return MYSQL_CAPABILITIES;
  }

  healthCheck(): Promise<HealthStatus> {
    return healthCheck(this.requireConfig(), this.context.mappedTables ?? [], this.context.policies, this.context.incrementalCursors ?? []);
  }

  async listEntities(): Promise<EntityType[]> {
    return listEntities(await this.connection(), this.database());
  }

  async describeEntity(type: string): Promise<EntitySchema> {
    const { decoders: _d, mysqlColumns: _m, ...entity } = await this.describe(type);
    return entity;
  }

  /** The binlog's end now, and its files (SHOW BINARY LOG STATUS on MySQL 8.4, SHOW MASTER STATUS before and on MariaDB). */
  private async binlogs(): Promise<Binlogs> {
    const c = await this.connection();
    const [status] = await textRows(c, "SHOW MASTER STATUS").catch(async (e) => {
      if ((e as { code?: string }).code !== "ER_PARSE_ERROR") throw e;
      return textRows(c, "SHOW BINARY LOG STATUS");
    });
    if (!status) {
      throw new AppError("BAD_REQUEST", "the server's binary log is off: changes cannot be captured. Start it with log_bin and a server_id (see the health check)", { category: "CONFIGURATION" });
    }
    const files = (await textRows(c, "SHOW BINARY LOGS")).map((r) => ({ name: r.Log_name!, size: Number(r.File_size ?? 0) }));
    return { current: { file: status.File!, position: Number(status.Position) }, files };
  }

  /** The capture is the binlog: it starts where the binlog ends now (before the snapshot's first read). */
  async prepareCapture(types: string[], options: { replace: boolean }): Promise<CaptureSetup> {
    await this.describeAll(types);
    const { current } = await this.binlogs();
    return { created: options.replace, start: binlogCursor(current), server: await this.serverIdentity() };
  }

  /** Every table is in the binlog: nothing to include or leave out on the server. */
  async attachCapture(types: string[]) {
    await this.describeAll(types);
    return { added: [], removed: [] };
  }

  /** MariaDB's GTID position at a binlog position (BINLOG_GTID_POS); null on MySQL, which has no such function. */
  private async gtidAt(at: BinlogPosition): Promise<string | null> {
    try {
      const [row] = await textRows(await this.connection(), "SELECT BINLOG_GTID_POS(?, ?) AS gtid", [at.file, at.position]);
      return row?.gtid ?? null;
    } catch (e) {
      if ((e as { code?: string }).code === "ER_SP_DOES_NOT_EXIST") return null;
      throw e;
    }
  }

  async captureStatus(): Promise<CaptureStatus> {
    const [identity, logs] = await Promise.all([this.serverIdentity(), this.binlogs().catch((e) => (e instanceof AppError ? null : Promise.reject(e)))]);
    const first = logs?.files[0];
    return {
      name: "binary log",
      server: identity,
      exists: logs !== null,
      active: null,
      lost: false,
      state: logs ? `${logs.files.length} binlog file${logs.files.length === 1 ? "" : "s"}` : "binary log off",
      confirmed_cursor: null,
      current_cursor: logs ? binlogCursor(logs.current) : "mysql_binlog:none.000000:0",
      oldest_cursor: first ? binlogCursor({ file: first.name, position: 4 }) : null,
      retained_bytes: logs ? logs.files.reduce((n, f) => n + f.size, 0) : null,
      lag_bytes: null,
    };
  }

  openChanges(types: string[], from: string | null): Promise<BinlogChangeStream> {
    return this.open(types, from, binlogServerId(this.context.sourceId), { gtids: true });
  }

  /**
   * A binlog reader from `from`. `gtids`: its commit cursors carry MariaDB's GTID position, started
   * from the server's own answer for this position (a cursor's ;gtid= is never taken on trust);
   * the product's stream asks for it, the spec's pages of changes do not (the server reads its
   * binlog up to the position to answer, too much for every page).
   */
  private async open(types: string[], from: string | null, serverId: number, reader: { gtids: boolean }): Promise<BinlogChangeStream> {
    const entities = new Map((await this.describeAll(types)).map((e, i) => [types[i]!, e] as const));
    const start = from ? parseBinlogCursor(from) : (await this.binlogs()).current;
    const gtid = reader.gtids ? await this.gtidAt(start) : null;
    const changes = new BinlogChangeStream(this.database(), entities, { file: start.file, position: start.position, gtid }, async (entity) => {
      this.entities.delete(entity);
      return this.describe(entity);
    });
    const options = await connectionOptions(this.requireConfig(), this.context.policies);
    // ssl_mode "prefer" fell back to plain text for the ordinary connection: the reader does the same.
    const plain = !((await this.connection()) as unknown as { connection: { config: { ssl?: unknown } } }).connection.config.ssl;
    if (this.requireConfig().connection.ssl_mode === "prefer" && plain) options.ssl = undefined;
    changes.start(options, serverId);
    return changes;
  }

  async *readSnapshotChunks(type: string, options: SnapshotReadOptions = {}): AsyncGenerator<SnapshotChunk> {
    const c = await this.connection();
    const entity = await this.describe(type);
    yield* readSnapshot(c, this.database(), entity, { batchSize: options.batch_size ?? this.requireConfig().options.batch_size, afterKey: options.after ?? null, limit: options.limit });
  }

  /** Incremental sync's bounds for a run, computed by the server at its start (./incremental.ts). */
  async incrementalBounds(type: string, options: IncrementalBoundsOptions): Promise<IncrementalBounds> {
    return incrementalBounds(await this.connection(), await this.describe(type), options);
  }

  /** The rows whose first cursor column lies in (lower, upper], in cursor-then-key order, resumable after each chunk's last row. */
  async *readIncrementalChunks(type: string, options: IncrementalReadOptions): AsyncGenerator<SnapshotChunk> {
    const c = await this.connection();
    const entity = await this.describe(type);
    const order = incrementalOrder(options.cursor, entity.primary_key);
    yield* readSnapshot(c, this.database(), entity, {
      batchSize: options.batch_size ?? this.requireConfig().options.batch_size,
      afterKey: options.after ?? null,
      plan: { order, range: { column: options.cursor[0]!, lower: options.lower, upper: options.upper } },
    });
  }

  async rowsByKey(type: string, keys: string[][]) {
    return readByKeys(await this.connection(), this.database(), await this.describe(type), keys);
  }

  /** Which of these keys still name a row (a reconcile's check, keys only). */
  async existingKeys(type: string, keys: string[][]) {
    return existingKeys(await this.connection(), this.database(), await this.describe(type), keys);
  }

  /** The spec's extractSnapshot: every row as a Context mapped to itself (reads only; capture is the pipeline's). */
  extractSnapshot(type: string, options: ExtractOptions): AsyncIterator<Context> {
    return contextsOf(type, this.readSnapshotChunks(type, { batch_size: options.batch_size, after: options.after_key, limit: options.limit }), options.onChunk);
  }

  /**
   * The spec's streamChanges: committed changes from `cursor`, one ChangeEvent per row change,
   * delivered when its transaction commits with the commit's end as its cursor. A reader of its
   * own (its own server id), so the product's stream is never cut off by it.
   */
  streamChanges(types: string[], cursor: string, options: { include?: ChangeOperation[]; signal?: AbortSignal } = {}): AsyncIterator<ChangeEvent> {
    return changeEventsOf(() => this.open(types, cursor, 2_100_000_000 + crypto.randomInt(40_000_000), { gtids: false }), new Set(options.include ?? MYSQL_CAPABILITIES.operations), (e) => this.entities.get(e)?.primary_key, options.signal);
  }

  /**
   * What identifies the server: MySQL's server_uuid; MariaDB has none, so its host name, port,
   * server_id and data directory stand in (a restored copy on another server differs in them).
   */
  private serverIdentity(): Promise<string> {
    this.identity ??= (async () => {
      const c = await this.connection();
      const uuid = await textRows(c, "SELECT @@server_uuid AS id").catch(() => null);
      if (uuid?.[0]?.id) return `mysql:${uuid[0].id}/${this.database()}`;
      const [r] = await textRows(c, "SELECT @@hostname AS host, @@port AS port, @@server_id AS server_id, @@datadir AS datadir");
      return `mariadb:${r!.host}:${r!.port}:${r!.server_id}:${r!.datadir}/${this.database()}`;
    })().catch((e) => {
      this.identity = undefined;
      throw e;
    });
    return this.identity;
  }

  private database() {
    return this.requireConfig().connection.database;
  }

  private requireConfig(): TMysqlConfig {
    if (!this.config) throw new Error("connector used before initialize()");
    return this.config;
  }

  private connection(): Promise<mysql.Connection> {
    return this.conn.get();
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
      const c = await this.connection();
      this.rowImage ??= textRows(c, "SELECT @@binlog_row_image AS v").then((r) => r[0]?.v ?? "FULL");
      entity = await describeEntity(c, this.database(), type, await this.rowImage);
      this.entities.set(type, entity);
    }
    return entity;
  }
}
