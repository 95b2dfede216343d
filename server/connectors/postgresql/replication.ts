// A pgoutput replication session over pg-logical-replication, with its data-loss traps closed
// (see ENVIRONMENT.md and docs/cdc.md):
//   - no automatic or timer acknowledgement (auto: false, timeoutSeconds: 0): the server is told
//     only what the caller says is durable, through confirm();
//   - confirm(lsn) reports exactly `lsn` (the library's acknowledge() adds 1, so it gets lsn - 1);
//   - keepalives that ask for an answer get one, with the durable position;
//   - flow control on: the socket pauses while the caller's async handler works (bounded memory);
//   - column values stay PostgreSQL text: the caller parses them with the same catalog-driven
//     parsers as snapshots, never pg's global ones (which lose microseconds, shift dates…); a
//     value of a mebibyte or more stays its UTF-8 bytes (a view of the message), so a large jsonb
//     document reaches the store as it came, never decoded into a string (json/json-text.ts);
//   - an unchanged TOAST value ('u') arrives as `undefined`, never null;
//   - a handler that throws stops the session (the library would log it and go on to the next
//     message, which would silently skip a change);
//   - liveness: the stream pings an idle session every few seconds and the server keepalives on its
//     own, so a socket silent for SILENCE_MS while not paused is a half-open connection (a cut the
//     TCP stack has not noticed): the session ends TRANSIENT and the stream reconnects.
import { rowFactory } from "../../json/safe.ts";
import { jsonFromBytes, LARGE_VALUE_BYTES } from "../../json/json-text.ts";
import { ownsMessageBuffer } from "../../db/large-messages.ts";
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from "pg-logical-replication";
import type pg from "pg";
import type { Socket } from "node:net";
import { AppError } from "../../errors/app-error.ts";
import { formatLsn, parseLsn } from "./lsn.ts";
import type { ValueParsers } from "./values.ts";
import type { JsonValue, SourceRecord } from "../types.ts";

const JSONB_OID = 3802;

/** Column values as PostgreSQL text (its UTF-8 bytes when large: LARGE_VALUE_BYTES or more); undefined: unchanged TOAST. */
export type TextTuple = Record<string, string | Buffer | null | undefined>;
export type Relation = Pgoutput.MessageRelation;
export type ReplicationMessage =
  | { tag: "begin"; commitLsn: bigint; commitTime: Date; xid: number }
  | { tag: "commit"; commitLsn: bigint; endLsn: bigint; commitTime: Date }
  | { tag: "relation"; relation: Relation }
  | { tag: "insert"; relation: Relation; new: TextTuple }
  | { tag: "update"; relation: Relation; new: TextTuple; old: TextTuple | null; key: TextTuple | null }
  | { tag: "delete"; relation: Relation; old: TextTuple | null; key: TextTuple | null }
  | { tag: "truncate"; relations: Relation[] }
  | { tag: "other" };

export type ReplicationHandlers = {
  /** Called for each message in order; the next one waits until it settles. */
  onMessage: (message: ReplicationMessage) => Promise<void> | void;
  /** A server keepalive: everything before `walEnd` has been sent. */
  onKeepalive?: (walEnd: bigint) => void;
};

/** Commit timestamps as the parser gives them: microseconds since the Unix epoch, as BigInt. */
function pgTime(value: bigint | BigInt): Date {
  return new Date(Number((value as bigint) / 1000n));
}

const UNPARSABLE = "ecm:unparsable";

function toMessage(raw: Pgoutput.Message): ReplicationMessage {
  if ((raw.tag as string) === UNPARSABLE) {
    const { error } = raw as unknown as { error: unknown };
    throw new AppError("INTERNAL_SERVER_ERROR", `a replication message could not be read: ${error instanceof Error ? error.message : String(error)}`, { category: "FATAL" });
  }
  switch (raw.tag) {
    case "begin":
      return { tag: "begin", commitLsn: parseLsn(raw.commitLsn!), commitTime: pgTime(raw.commitTime), xid: raw.xid };
    case "commit":
      return { tag: "commit", commitLsn: parseLsn(raw.commitLsn!), endLsn: parseLsn(raw.commitEndLsn!), commitTime: pgTime(raw.commitTime) };
    case "relation":
      return { tag: "relation", relation: raw };
    case "insert":
      return { tag: "insert", relation: raw.relation, new: raw.new };
    case "update":
      return { tag: "update", relation: raw.relation, new: raw.new, old: raw.old, key: raw.key };
    case "delete":
      return { tag: "delete", relation: raw.relation, old: raw.old, key: raw.key };
    case "truncate":
      return { tag: "truncate", relations: raw.relations };
    default:
      return { tag: "other" };
  }
}

// How rows of a relation are made (json/safe.ts rowFactory), worked out once per relation message.
const rowMakers = new WeakMap<Relation, () => SourceRecord>();
function rowMaker(relation: Relation): () => SourceRecord {
  let make = rowMakers.get(relation);
  if (!make) rowMakers.set(relation, (make = rowFactory<SourceRecord[string]>(relation.columns.map((c) => c.name))));
  return make;
}

/** Text tuple → exact JSON values with the catalog parsers; `unchanged` names unchanged TOAST columns. */
export function decodeTuple(parsers: ValueParsers, relation: Relation, tuple: TextTuple): { record: SourceRecord; unchanged: Set<string> } {
  const record = rowMaker(relation)();
  const unchanged = new Set<string>();
  for (const column of relation.columns) {
    const text = tuple[column.name];
    if (text === undefined) unchanged.add(column.name); // keep the stored value, never null
    else if (text === null) record[column.name] = null;
    else if (typeof text === "string") record[column.name] = parsers.parser(column.typeOid)(text);
    else record[column.name] = column.typeOid === JSONB_OID ? (jsonFromBytes(text) as JsonValue) : parsers.parser(column.typeOid)(text.toString("utf8"));
  }
  return { record, unchanged };
}

/** What readTextTuple uses of the library's BinaryReader. */
type TupleReader = { readInt16(): number; readUint8(): number; readInt32(): number; read(n: number): Buffer };

/**
 * The library's readTuple, except that values are decoded as snapshots decode them (a leading
 * U+FEFF kept), and a value of LARGE_VALUE_BYTES or more stays its bytes: a view of the message
 * where the message has a buffer of its own that nothing writes into again
 * (db/large-messages.ts), else a copy.
 */
export function readTextTuple(reader: TupleReader, relation: { columns: { name: string }[] }, unchangedToastFallback?: TextTuple | null): TextTuple {
  const count = reader.readInt16();
  const tuple: TextTuple = Object.create(null);
  for (let i = 0; i < count; i++) {
    const name = relation.columns[i]!.name;
    const kind = reader.readUint8();
    if (kind === 0x74) {
      // 't': text
      const bytes = reader.read(reader.readInt32());
      tuple[name] = bytes.length < LARGE_VALUE_BYTES ? bytes.toString("utf8") : ownsMessageBuffer(bytes) ? bytes : Buffer.from(bytes);
    } else if (kind === 0x6e) tuple[name] = null; // 'n': null
    else if (kind === 0x75) tuple[name] = unchangedToastFallback?.[name]; // 'u': unchanged TOAST datum
    else throw new AppError("INTERNAL_SERVER_ERROR", `unexpected pgoutput column kind ${String.fromCharCode(kind)} (the session asks for text values only)`, { category: "FATAL" });
  }
  return tuple;
}

type ServiceInternals = { _messageQueue: unknown[]; _processing: boolean; _connection?: { stream?: Socket } };

/** Longer than the stream's idle ping (10 s) twice over and the server's own keepalive (wal_sender_timeout / 2, 30 s by default). */
export const SILENCE_MS = 45_000;

export class ReplicationSession {
  private readonly service: LogicalReplicationService;
  private confirmed = 0n;
  private failure: unknown = null;
  private stopping = false;

  constructor(
    private readonly clientConfig: pg.ClientConfig,
    private readonly names: { slot: string; publication: string },
    private readonly handlers: ReplicationHandlers,
    /** `readOnly`: nothing is ever confirmed, not even the start (a page reader's session). */
    private readonly options: { readOnly: boolean } = { readOnly: false },
  ) {
    this.service = new LogicalReplicationService(clientConfig, { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } });
  }

  /**
   * Streams from `from` (0n: from the slot's confirmed position) until stop() or an error.
   * Resolves when stopped cleanly, rejects with the first error (the handler's or the server's).
   */
  async run(from: bigint): Promise<void> {
    this.confirmed = this.options.readOnly ? 0n : from;
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.names.publication] });
    // Column values as their text (readTextTuple): the caller parses them with the catalog's parsers.
    (plugin as unknown as { parser: { readTuple: typeof readTextTuple } }).parser.readTuple = readTextTuple;
    // The library parses a message inside the socket's data handler, where a throw would be an
    // uncaught exception: a message it cannot parse becomes one that fails the session instead.
    const parse = plugin.parse.bind(plugin);
    plugin.parse = (buffer: Buffer) => {
      try {
        return parse(buffer);
      } catch (error) {
        return { tag: UNPARSABLE, error } as unknown as Pgoutput.Message;
      }
    };

    // Liveness: when the server was last heard from (data or keepalive). Silence is read-side only (a
    // socket's own timeout counts our pings as activity); a socket paused by flow control is waiting
    // for us, not for the server.
    let heard = Date.now();
    const failed = new Promise<never>((_, reject) => {
      this.service.on("error", (error: Error) => {
        if (this.stopping) return;
        this.failure ??= error;
        reject(this.failure);
      });
    });
    failed.catch(() => {});
    this.service.on("data", async (_lsn: string, raw: Pgoutput.Message) => {
      heard = Date.now();
      if (this.failure || this.stopping) return; // nothing after a failure may be applied
      try {
        await this.handlers.onMessage(toMessage(raw));
      } catch (error) {
        this.failure ??= error;
        this.service.emit("error", error);
        void this.service.stop().catch(() => {});
      }
    });
    const watchdog = setInterval(() => {
      const socket = (this.service as unknown as ServiceInternals)._connection?.stream;
      if (this.stopping || this.failure || !socket || socket.isPaused()) return void (heard = Date.now());
      if (Date.now() - heard < SILENCE_MS) return;
      this.service.emit("error", new AppError("SERVICE_UNAVAILABLE", `the replication connection was silent for ${SILENCE_MS / 1000} s (no data, no keepalive): reconnecting`, { category: "TRANSIENT" }));
      socket.destroy();
    }, 1000);
    this.service.on("heartbeat", (lsn: string, _ts: number, shouldRespond: boolean) => {
      heard = Date.now();
      if (this.failure || this.stopping) return;
      this.handlers.onKeepalive?.(parseLsn(lsn));
      if (shouldRespond) void this.confirm(this.confirmed);
    });
    try {
      await Promise.race([this.service.subscribe(plugin, this.names.slot, formatLsn(from)), failed]);
    } finally {
      clearInterval(watchdog);
    }
    if (this.failure) throw this.failure;
  }

  /** Tells the server that everything before `lsn` is durable (written, flushed, applied). */
  async confirm(lsn: bigint, ping = false): Promise<void> {
    if (this.options.readOnly) return;
    if (lsn > this.confirmed) this.confirmed = lsn;
    if (this.confirmed === 0n || this.stopping) return;
    await this.service.acknowledge(formatLsn(this.confirmed - 1n), ping); // acknowledge() adds 1
  }

  /** Asks the server for a keepalive (it answers with its current WAL end). */
  ping(): Promise<void> {
    return this.confirm(this.confirmed, true);
  }

  /** True when every message received so far has been handed to onMessage and settled. */
  drained(): boolean {
    const internals = this.service as unknown as ServiceInternals;
    return internals._messageQueue.length === 0 && !internals._processing;
  }

  /** Messages received and waiting for onMessage (0: the handler has seen all that arrived). */
  backlog(): number {
    return (this.service as unknown as ServiceInternals)._messageQueue.length;
  }

  get confirmedLsn(): bigint {
    return this.confirmed;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.service.destroy().catch(() => {});
  }
}
