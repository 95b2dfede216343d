// The binlog as the port's ChangeStream: row events read by @vlasky/zongji (a maintained binlog
// client on mysql2, chosen in docs/connectors.md), decoded by the same column rules as the
// snapshot (values.ts), in commit order. What it decides, and why:
//   - order: a transaction's changes take its start (the previous commit's end: transactions are
//     contiguous in the binlog) in the high bits, 1 + their index in it in the low ones;
//   - every commit is handed out, one whose transaction touched none of the stream's tables as a
//     heartbeat (no time): the cursor moves past other tables' traffic without asking for a write;
//   - TRUNCATE (a statement even in ROW format) is a truncate of its entity; other DDL ends its
//     own implicit transaction; a table map whose columns differ from the entity's described ones
//     makes the entity be described again and a `schema` change handed out (the schema policy);
//   - column names come from the table map itself (binlog_row_metadata=FULL, a health check), so a
//     change logged before an ALTER is never named by the columns after it;
//   - backpressure: the binlog connection is paused while HIGH_WATER changes wait for the consumer
//     (TCP then holds the server), and the server is told to wait that long (net_write_timeout).
// Nothing is acknowledged to the server: the store's cursor is the only record (ack is a no-op).
import ZongJi from "@vlasky/zongji";
import type mysql from "mysql2/promise";
import type { ChangeStream, SourceChange, SourceRecord } from "../types.ts";
import { binlogCursor, changeOrder, type BinlogPosition } from "./binlog-cursor.ts";
import type { DescribedEntity } from "./catalog.ts";
import { keyText } from "./snapshot.ts";

const HIGH_WATER = 4000;

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
};

type ZongJiInstance = {
  on(event: "binlog", fn: (e: BinlogEvent) => void): void;
  on(event: "error", fn: (e: Error) => void): void;
  on(event: "ready" | "stopped", fn: () => void): void;
  start(options: Record<string, unknown>): void;
  stop(): void;
  connection?: { pause(): void; resume(): void; query(sql: string, cb?: (e: Error | null) => void): void } | null;
  options: { filename?: string; position?: number };
};

export type Redescribe = (entity: string) => Promise<DescribedEntity>;

export class BinlogChangeStream implements ChangeStream {
  private buffer: SourceChange[] = [];
  private failure: unknown = null;
  private ended = false;
  private wake: (() => void) | null = null;
  private paused = false;
  private zongji: ZongJiInstance | null = null;
  /** Where the next transaction starts (the last commit's end). */
  private txStart: BinlogPosition;
  private index = 0;
  private wanted = false;
  /** Entities whose table map was checked against their description this session. */
  private readonly checked = new Set<string>();
  /** Work that must finish, in order, before later events are handled (a re-description). */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly database: string,
    private readonly entities: Map<string, DescribedEntity>,
    from: BinlogPosition,
    private readonly redescribe: Redescribe,
  ) {
    this.txStart = from;
    for (const [entity, described] of entities) {
      this.buffer.push({ kind: "schema", entity, columns: described.columns.map((c) => ({ name: c.name, type: c.type })), seed: true });
    }
  }

  /** Starts reading at `from` with these mysql2 options (the binlog reader's own two connections). */
  start(options: mysql.ConnectionOptions, serverId: number) {
    const zongji = new (ZongJi as unknown as new (o: unknown) => ZongJiInstance)({ ...options, typeCast: undefined, dateStrings: true, timezone: "Z" });
    this.zongji = zongji;
    zongji.on("error", (e) => this.end(e));
    zongji.on("ready", () => {
      // Queued before the dump: the server waits for a paused reader instead of cutting it off.
      zongji.connection?.query("SET SESSION net_write_timeout = 3600");
    });
    zongji.on("binlog", (event) => {
      this.chain = this.chain.then(() => this.onEvent(event)).catch((e) => this.end(e));
    });
    zongji.start({
      serverId,
      filename: this.txStart.file,
      position: this.txStart.position,
      includeEvents: ["rotate", "tablemap", "writerows", "updaterows", "deleterows", "xid", "query"],
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
      case "query":
        return this.onQuery(event);
    }
  }

  private entityOf(event: BinlogEvent): string | null {
    const table = event.tableMap?.[event.tableId!];
    if (!table || table.parentSchema !== this.database || !this.entities.has(table.tableName)) return null;
    return table.tableName;
  }

  /** The first table map of an entity, or one after DDL: columns changed → described again, and said. */
  private async onTableMap(event: BinlogEvent) {
    const entity = this.entityOf(event);
    if (!entity) return;
    const names = (event.tableMap?.[event.tableId!]?.columns ?? []).map((c) => c.name);
    const described = this.entities.get(entity)!;
    if (this.checked.has(entity) && names.length === described.columns.length && names.every((n, i) => n === described.columns[i]!.name)) return;
    this.checked.add(entity);
    if (names.length === described.columns.length && names.every((n, i) => n === described.columns[i]!.name)) return;
    const now = await this.redescribe(entity);
    this.entities.set(entity, now);
    this.push({ kind: "schema", entity, columns: now.columns.map((c) => ({ name: c.name, type: c.type })), seed: false });
  }

  private decode(described: DescribedEntity, row: Record<string, unknown>): SourceRecord {
    const record: SourceRecord = Object.create(null);
    for (let i = 0; i < described.columns.length; i++) {
      const name = described.columns[i]!.name;
      const v = Object.hasOwn(row, name) ? row[name] : null;
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
    const keyOf = (r: SourceRecord) => described.primary_key.map((k) => keyText(r[k] ?? null));
    const cursor = binlogCursor(this.txStart);
    const kind = event.getEventName() === "writerows" ? "insert" : event.getEventName() === "updaterows" ? "update" : "delete";
    for (const raw of rows) {
      const order = changeOrder(this.txStart, this.index++);
      if (kind === "update") {
        const { before, after } = raw as { before: Record<string, unknown>; after: Record<string, unknown> };
        const row = this.decode(described, after);
        this.push({ kind, entity, key: keyOf(row), row, before: this.decode(described, before), unchanged: null, order, cursor });
      } else {
        const row = this.decode(described, raw as Record<string, unknown>);
        this.push({ kind, entity, key: keyOf(row), row, before: null, unchanged: null, order, cursor });
      }
    }
    if (this.buffer.length >= HIGH_WATER && !this.paused) {
      this.paused = true;
      this.zongji?.connection?.pause();
    }
  }

  /** TRUNCATE of a stream's table; any other statement here (DDL, a non-transactional COMMIT) ends its transaction. */
  private onQuery(event: BinlogEvent) {
    const sql = (event.query ?? "").trim();
    if (/^(BEGIN|XA START)\b/i.test(sql)) return;
    const truncate = /^TRUNCATE\s+(?:TABLE\s+)?(?:(`(?:[^`]|``)+`|\w+)\.)?(`(?:[^`]|``)+`|\w+)\s*;?\s*$/i.exec(sql);
    if (truncate) {
      const unquote = (s: string) => (s.startsWith("`") ? s.slice(1, -1).replaceAll("``", "`") : s);
      const db = truncate[1] ? unquote(truncate[1]) : event.schema;
      const table = unquote(truncate[2]!);
      if (db === this.database && this.entities.has(table)) {
        this.wanted = true;
        this.push({ kind: "truncate", entity: table, order: changeOrder(this.txStart, this.index++), cursor: binlogCursor(this.txStart) });
      }
    }
    this.commit(event);
  }

  private commit(event: BinlogEvent) {
    const file = this.zongji?.options.filename ?? this.txStart.file;
    const end = { file, position: event.nextPosition };
    const wanted = this.wanted;
    this.txStart = end;
    this.index = 0;
    this.wanted = false;
    this.push({ kind: "commit", cursor: binlogCursor(end), committed_at: wanted ? new Date(event.timestamp) : null, more: true });
  }

  private push(change: SourceChange) {
    this.buffer.push(change);
    this.wake?.();
    this.wake = null;
  }

  private end(error: unknown) {
    this.failure ??= error;
    this.ended = true;
    this.wake?.();
    this.wake = null;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SourceChange[]> {
    for (;;) {
      if (this.buffer.length) {
        const changes = this.buffer;
        this.buffer = [];
        if (this.paused) {
          this.paused = false;
          this.zongji?.connection?.resume();
        }
        const last = changes[changes.length - 1]!;
        if (last.kind === "commit" && last.committed_at) last.more = false;
        yield changes;
        continue;
      }
      if (this.ended) {
        if (this.failure) throw this.failure;
        return;
      }
      await new Promise<void>((r) => (this.wake = r));
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
