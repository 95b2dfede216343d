// The binlog as the port's ChangeStream: row events read by @vlasky/zongji (a maintained binlog
// client on mysql2, chosen in docs/connectors.md), decoded by the same column rules as the
// snapshot (values.ts), in commit order. What it decides, and why:
//   - order: a transaction's changes take its start (the previous commit's end: transactions are
//     contiguous in the binlog) in the high bits, 1 + their index in it in the low ones;
//   - every commit is handed out, one whose transaction touched none of the stream's tables as a
//     heartbeat (no time): the cursor moves past other tables' traffic without asking for a write;
//     a cursor is only ever a transaction's end (statements inside one, SAVEPOINT and the like,
//     never end it, and MariaDB's in-transaction events carry no position);
//   - TRUNCATE (a statement even in ROW format) is a truncate of its entity; other DDL ends its
//     own implicit transaction (statements are read by a linear tokenizer, statements.ts);
//   - a table map whose column names differ from the last ones seen for its entity makes the
//     entity be described again and a `schema` change handed out (the schema policy), once per
//     change of columns, not once per event of an older backlog;
//   - a column an update's row image left out (a session's binlog_row_image MINIMAL or NOBLOB)
//     is `unchanged`: its stored value is kept, never overwritten with null;
//   - column names come from the table map itself (binlog_row_metadata=FULL, a health check), so a
//     change logged before an ALTER is never named by the columns after it;
//   - backpressure: the binlog socket is paused while HIGH_WATER changes wait for the consumer
//     (TCP then holds the server), and the server is told to wait that long (net_write_timeout);
//   - liveness: the server sends a heartbeat every few seconds when idle; a socket silent for
//     SILENCE_MS while not paused is dead (a half-open connection) and ends the stream TRANSIENT.
// Nothing is acknowledged to the server: the store's cursor is the only record (ack is a no-op).
import ZongJi from "@vlasky/zongji";
import type mysql from "mysql2/promise";
import { BufferedChangeStream } from "../buffered-changes.ts";
import type { SourceRecord } from "../types.ts";
import { binlogCursor, changeOrder, type BinlogPoint, type BinlogPosition } from "./binlog-cursor.ts";
import { parseGtidPosition, type Gtid } from "./gtid.ts";
import type { MariadbGtidPosition } from "@vlasky/zongji";
import type { DescribedEntity } from "./catalog.ts";
import { keyText } from "./snapshot.ts";
import { readStatement } from "./statements.ts";
import { AppError } from "../../errors/app-error.ts";

const HIGH_WATER = 4000;
const HEARTBEAT_NS = 5_000_000_000;
const SILENCE_MS = 30_000;

type BinlogEvent = {
  getEventName(): string;
  nextPosition: number;
  timestamp: number;
  query?: string;
  schema?: string;
  binlogName?: string;
  position?: number;
  tableId?: number;
  tableMap?: Record<number, { parentSchema: string; tableName: string; columns?: { name: string }[] }>;
  rows?: Record<string, unknown>[] | { before: Record<string, unknown>; after: Record<string, unknown> }[];
  /** The columns-present bitmap of the (old) row image, one bit per table-map column. */
  columns_present_bitmap?: Buffer;
  /** An update's columns-present bitmap of the new row. */
  columns_present_bitmap2?: Buffer;
  /** MariaDB's GTID event. */
  domainId?: number;
  serverId?: number;
  seqNo?: number | string;
};

/** Names of the table map's columns whose bit is clear in `bitmap` (left out of the row image). */
function absentColumns(names: string[], bitmap: Buffer | undefined): Set<string> {
  const out = new Set<string>();
  if (!bitmap) return out;
  for (let i = 0; i < names.length; i++) if (((bitmap[i >> 3] ?? 0) >> (i & 7)) & 1 ? false : true) out.add(names[i]!);
  return out;
}

type ZongJiInstance = {
  on(event: "binlog", fn: (e: BinlogEvent) => void): void;
  on(event: "error", fn: (e: Error) => void): void;
  on(event: "ready" | "stopped", fn: () => void): void;
  start(options: Record<string, unknown>): void;
  stop(): void;
  connection?: { query(sql: string, cb?: (e: Error | null) => void): void; stream?: import("node:net").Socket } | null;
  options: { filename?: string; position?: number };
};

export type Redescribe = (entity: string) => Promise<DescribedEntity>;

export class BinlogChangeStream extends BufferedChangeStream {
  private zongji: ZongJiInstance | null = null;
  /** Where the next transaction starts (the last commit's end). */
  private txStart: BinlogPosition;
  private index = 0;
  private wanted = false;
  private inTransaction = false;
  /** The column names last seen for each entity (its description's at first). */
  private readonly columnsSeen = new Map<string, string>();
  /** Work that must finish, in order, before later events are handled (a re-description). */
  private chain: Promise<void> = Promise.resolve();
  /**
   * MariaDB's GTID position at `txStart` (null: a MySQL server, or unknown). Kept here rather than
   * read from zongji, which tracks it only from a dump started at a file's start or by GTID.
   */
  private readonly gtids: MariadbGtidPosition | null;
  /** The GTID of the event group being read, added to `gtids` once it ends. */
  private pendingGtid: Gtid | null = null;

  constructor(
    private readonly database: string,
    private readonly entities: Map<string, DescribedEntity>,
    from: BinlogPoint,
    private readonly redescribe: Redescribe,
  ) {
    super();
    this.txStart = { file: from.file, position: from.position };
    this.gtids = from.gtid === null ? null : parseGtidPosition(from.gtid);
    for (const [entity, described] of entities) {
      this.columnsSeen.set(entity, described.columns.map((c) => c.name).join("\0"));
      this.buffer.push({ kind: "schema", entity, columns: described.columns.map((c) => ({ name: c.name, type: c.type })), seed: true });
    }
  }

  /** Starts reading at `from` with these mysql2 options (the binlog reader's own two connections). */
  start(options: mysql.ConnectionOptions, serverId: number) {
    const zongji = new (ZongJi as unknown as new (o: unknown) => ZongJiInstance)({ ...options, typeCast: undefined, dateStrings: true, timezone: "Z" });
    this.zongji = zongji;
    zongji.on("error", (e) => this.end(e));
    zongji.on("ready", () => {
      // Queued before the dump: the server waits for a paused reader instead of cutting it off,
      // and sends a heartbeat when idle (so silence means a dead connection).
      zongji.connection?.query("SET SESSION net_write_timeout = 3600");
      zongji.connection?.query(`SET @master_heartbeat_period = ${HEARTBEAT_NS}`);
      const socket = zongji.connection?.stream;
      socket?.setTimeout(SILENCE_MS);
      socket?.on("timeout", () => {
        // Paused by us or by zongji: silence is expected; watch again (the timer fires once).
        if (socket.isPaused()) return void socket.setTimeout(SILENCE_MS);
        this.end(new AppError("SERVICE_UNAVAILABLE", `the binlog connection was silent for ${SILENCE_MS / 1000} s (no heartbeat): reconnecting`, { category: "TRANSIENT" }));
        socket.destroy();
      });
    });
    zongji.on("binlog", (event) => {
      this.chain = this.chain.then(() => this.onEvent(event)).catch((e) => this.end(e));
    });
    zongji.start({
      serverId,
      filename: this.txStart.file,
      position: this.txStart.position,
      includeEvents: ["rotate", "tablemap", "writerows", "updaterows", "deleterows", "xid", "xaprepare", "query", "mariadbgtid"],
      includeSchema: { [this.database]: true },
    });
  }

  private async onEvent(event: BinlogEvent) {
    if (this.ended) return;
    switch (event.getEventName()) {
      case "rotate":
        // The artificial rotate at the dump's start names the file we asked for; a real one ends a file.
        if (event.binlogName && event.binlogName !== this.txStart.file) this.txStart = { file: event.binlogName, position: event.position ?? 4 };
        return;
      case "tablemap":
        return this.onTableMap(event);
      case "writerows":
      case "updaterows":
      case "deleterows":
        return this.onRows(event);
      case "xid":
        return this.commit(event);
      case "xaprepare":
        // An XA transaction's rows end at its PREPARE (its COMMIT comes later, alone). They are
        // handed out here: an XA ROLLBACK after PREPARE is not undone (docs/connectors.md).
        return this.commit(event);
      case "query":
        return this.onQuery(event);
      case "mariadbgtid":
        // A group starts (every database's: zongji filters only table maps and rows by schema).
        // Its GTID joins the position when the group ends (commit below), or at the latest when
        // the next group starts. An XA PREPARE ends a group of its own: unlike zongji, which
        // counts what a reader has processed, the position here is the server's state.
        this.foldGtid();
        this.pendingGtid = { domainId: event.domainId!, serverId: event.serverId!, seqNo: event.seqNo! };
        return;
    }
  }

  private foldGtid() {
    if (this.pendingGtid !== null) this.gtids?.add(this.pendingGtid);
    this.pendingGtid = null;
  }

  private entityOf(event: BinlogEvent): string | null {
    const table = event.tableMap?.[event.tableId!];
    if (!table || table.parentSchema !== this.database || !this.entities.has(table.tableName)) return null;
    return table.tableName;
  }

  /** A table map whose column names differ from the last seen for its entity: described again, and said. */
  private async onTableMap(event: BinlogEvent) {
    const entity = this.entityOf(event);
    if (!entity) return;
    const names = (event.tableMap?.[event.tableId!]?.columns ?? []).map((c) => c.name);
    const signature = names.join("\0");
    if (this.columnsSeen.get(entity) === signature) return;
    this.columnsSeen.set(entity, signature);
    const now = await this.redescribe(entity);
    this.entities.set(entity, now);
    // The log may be older than the catalog: the columns said are the table map's, typed by the
    // catalog where it still has them.
    const types = new Map(now.columns.map((c) => [c.name, c.type]));
    this.push({ kind: "schema", entity, columns: names.map((name) => ({ name, type: types.get(name) ?? "unknown" })), seed: false });
  }

  /** The row as JSON by the entity's column rules (a column the image left out is null here; the caller marks it unchanged). */
  private decode(described: DescribedEntity, row: Record<string, unknown>): SourceRecord {
    const record: SourceRecord = Object.create(null);
    for (let i = 0; i < described.columns.length; i++) {
      const name = described.columns[i]!.name;
      if (!Object.hasOwn(row, name)) {
        record[name] = null;
        continue;
      }
      const v = row[name];
      record[name] = v === null || v === undefined ? null : described.decoders[i]!.fromBinlog(v);
    }
    return record;
  }

  private onRows(event: BinlogEvent) {
    const entity = this.entityOf(event);
    const rows = event.rows ?? [];
    if (!entity) {
      this.index += rows.length;
      return;
    }
    this.wanted = true;
    const described = this.entities.get(entity)!;
    const key_columns = described.primary_key;
    const keyOf = (r: SourceRecord) => key_columns.map((k) => keyText(r[k] ?? null));
    const cursor = binlogCursor(this.txStart);
    const names = (event.tableMap?.[event.tableId!]?.columns ?? []).map((c) => c.name);
    const kind = event.getEventName() === "writerows" ? "insert" : event.getEventName() === "updaterows" ? "update" : "delete";
    for (const raw of rows) {
      const order = changeOrder(this.txStart, this.index++);
      if (kind === "update") {
        const { before, after } = raw as { before: Record<string, unknown>; after: Record<string, unknown> };
        const missing = absentColumns(names, event.columns_present_bitmap2);
        const row = this.decode(described, after);
        const old = this.decode(described, before);
        // A minimal image carries the key only in the old row when the key did not change.
        for (const k of key_columns) {
          if (missing.delete(k)) row[k] = old[k] ?? null;
        }
        // An old row the image left columns out of is only good for its key: given only when the
        // key moved (its context is tombstoned), never to build anything else from its nulls.
        const oldPartial = absentColumns(names, event.columns_present_bitmap).size > 0;
        const keyMoved = key_columns.some((k) => old[k] !== row[k]);
        this.push({ kind, entity, key: keyOf(row), key_columns, row, before: oldPartial && !keyMoved ? null : old, unchanged: missing.size ? missing : null, order, cursor });
      } else {
        const row = this.decode(described, raw as Record<string, unknown>);
        // An insert under a session's MINIMAL image leaves out the columns that took their default:
        // their values are unknown here, so they are kept as stored (nothing, for a new context)
        // rather than written as null; the health check asks for FULL (docs/connectors.md).
        const missing = kind === "insert" ? absentColumns(names, event.columns_present_bitmap) : null;
        this.push({ kind, entity, key: keyOf(row), key_columns, row, before: null, unchanged: missing?.size ? missing : null, order, cursor });
      }
    }
  }

  /** A statement: a transaction's start or end, a TRUNCATE of a stream's table, or DDL (its own transaction). */
  private onQuery(event: BinlogEvent) {
    const statement = readStatement(event.query ?? "");
    switch (statement.kind) {
      case "begin":
        this.inTransaction = true;
        return;
      case "inside":
        return;
      case "end":
        return this.commit(event);
      case "truncate": {
        const db = statement.database ?? event.schema;
        if (db === this.database && this.entities.has(statement.table)) {
          this.wanted = true;
          this.push({ kind: "truncate", entity: statement.table, order: changeOrder(this.txStart, this.index++), cursor: binlogCursor(this.txStart) });
        }
        return this.commit(event);
      }
      case "other":
        // DDL commits implicitly; inside a transaction (not DDL, then) it is part of it.
        if (!this.inTransaction) this.commit(event);
    }
  }

  /** The transaction ends here: its end is the cursor, and where the next one starts. */
  private commit(event: BinlogEvent) {
    this.inTransaction = false;
    // MariaDB writes no position on events inside a transaction; a real end always has one.
    if (!event.nextPosition) return;
    // The file is the one this event is in: the rotate events that change it arrive in order
    // (zongji's own idea of the file moves ahead of the events still queued here).
    const end = { file: this.txStart.file, position: event.nextPosition };
    const wanted = this.wanted;
    this.txStart = end;
    this.index = 0;
    this.wanted = false;
    this.foldGtid();
    this.push({ kind: "commit", cursor: binlogCursor({ ...end, gtid: this.gtids?.toString() || null }), committed_at: wanted ? new Date(event.timestamp) : null, more: true });
  }

  /** Backpressure on the socket, not mysql2's pause (zongji uses that itself while it looks a table up). */
  // The socket's own state, not a flag: zongji resumes the connection after a table lookup, and
  // a socket resumed here while zongji holds mysql2's pause only fills mysql2's packet queue.
  protected afterPush() {
    const socket = this.zongji?.connection?.stream;
    if (this.buffer.length >= HIGH_WATER && socket && !socket.isPaused()) socket.pause();
  }

  protected drained() {
    const socket = this.zongji?.connection?.stream;
    if (socket?.isPaused()) {
      socket.resume();
      socket.setTimeout(SILENCE_MS);
    }
  }

  /** The server keeps no position for a reader: the store's cursor is the record. */
  async ack(): Promise<void> {}

  /** Nothing to ask: every commit is handed out, and a lost connection ends the stream with its error. */
  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.buffer = [];
    this.end(null);
    const z = this.zongji;
    this.zongji = null;
    if (z) {
      try {
        z.stop();
      } catch {
        // already stopped
      }
    }
  }
}
