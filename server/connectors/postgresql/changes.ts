// PostgreSQL's change stream for the pipeline (the port's ChangeStream): pgoutput messages from a
// ReplicationSession, decoded with the catalog-driven value parsers, turned into SourceChanges in
// commit order. What it decides, and why:
//   - order: commit LSN in the high 32 bits of the store position, 1 + the change's index in its
//     transaction in the low ones (every change and truncated relation of the transaction counts,
//     published or not, so positions never depend on the mapping);
//   - key: the table's primary key when it has one, else the replica identity's columns;
//   - an unchanged TOAST value arrives as "unchanged", never as null;
//   - heartbeats: a keepalive that finds nothing received but not yet handed out, and no
//     transaction half read, becomes a `commit` without a time (the cursor may move there);
//   - changes are handed out as arrays of everything received so far (BufferedChangeStream);
//   - backpressure: the session waits while HIGH_WATER changes wait for the consumer.
// Nothing is acknowledged except what ack() is told (replication.ts).
import { BufferedChangeStream } from "../buffered-changes.ts";
import type { SourceChange } from "../types.ts";
import { entityName, type DescribedEntity } from "./catalog.ts";
import { changePosition, lsnCursor, parseLsnCursor } from "./lsn.ts";
import { decodeTuple, type Relation, type ReplicationMessage, type ReplicationSession, type TextTuple } from "./replication.ts";
import type { ValueParsers } from "./values.ts";

const HIGH_WATER = 4000;

type RelationInfo = { entity: string; wanted: boolean; keyColumns: string[] };

export class PgChangeStream extends BufferedChangeStream {
  private readonly relations = new Map<number, RelationInfo>();
  private tx: { commitLsn: bigint; cursor: string; index: number } | null = null;
  private lastCommitEnd: bigint;
  private resume: (() => void) | null = null;
  private session: ReplicationSession | null = null;

  constructor(
    private readonly entities: Map<string, DescribedEntity>,
    private readonly parsers: ValueParsers,
    private readonly from: bigint,
  ) {
    super();
    this.lastCommitEnd = from;
    // The columns as the catalog has them now: the schema guard's reference for an entity it has
    // never seen (a seed: the log may still hold changes under older columns).
    for (const [entity, described] of entities) {
      this.buffer.push({ kind: "schema", entity, columns: described.columns.map((c) => ({ name: c.name, type: String(c.type_oid) })), seed: true });
    }
  }

  /** Starts reading from `from` (0n: the slot's confirmed position) on `session`. */
  start(session: ReplicationSession) {
    this.session = session;
    session.run(this.from).then(
      () => this.end(null),
      (error) => this.end(error),
    );
  }

  /** The replication handlers: called in order, each awaited by the session (flow control). */
  readonly onMessage = async (message: ReplicationMessage) => {
    switch (message.tag) {
      case "begin":
        this.tx = { commitLsn: message.commitLsn, cursor: lsnCursor(message.commitLsn), index: 0 };
        return;
      case "relation":
        this.onRelation(message.relation);
        break;
      case "insert":
      case "update":
      case "delete":
        this.onRow(message);
        break;
      case "truncate": {
        const tx = this.requireTx("truncate");
        for (const relation of message.relations) {
          const info = this.relation(relation);
          const index = tx.index++;
          if (info.wanted) this.push({ kind: "truncate", entity: info.entity, order: changePosition(tx.commitLsn, index), cursor: tx.cursor });
        }
        break;
      }
      case "commit":
        this.tx = null;
        this.lastCommitEnd = message.endLsn;
        this.push({ kind: "commit", cursor: lsnCursor(message.endLsn), committed_at: message.commitTime, more: true });
        break;
    }
    // Backpressure, inside transactions too (one may hold millions of changes): the session, and
    // with it the socket, waits while the consumer has plenty to take.
    if (this.buffer.length >= HIGH_WATER && !this.ended) await new Promise<void>((r) => (this.resume = r));
  };

  readonly onKeepalive = (walEnd: bigint) => {
    if (this.tx || walEnd <= this.lastCommitEnd || !this.session?.drained()) return;
    this.lastCommitEnd = walEnd;
    this.push({ kind: "commit", cursor: lsnCursor(walEnd), committed_at: null, more: false });
  };

  private onRow(message: Extract<ReplicationMessage, { tag: "insert" | "update" | "delete" }>) {
    const tx = this.requireTx(message.tag);
    const info = this.relation(message.relation);
    const index = tx.index++;
    if (!info.wanted) return;
    const base = { entity: info.entity, order: changePosition(tx.commitLsn, index), cursor: tx.cursor };
    if (message.tag === "delete") {
      const tuple = message.old ?? message.key ?? {};
      const { record } = decodeTuple(this.parsers, message.relation, tuple);
      this.push({ kind: "delete", ...base, key: keyOf(info, tuple), key_columns: info.keyColumns, row: record, before: null, unchanged: null });
      return;
    }
    const { record, unchanged } = decodeTuple(this.parsers, message.relation, message.new);
    const oldTuple = message.tag === "update" ? (message.old ?? message.key) : null;
    const before = oldTuple ? decodeTuple(this.parsers, message.relation, oldTuple).record : null;
    this.push({ kind: message.tag, ...base, key: keyOf(info, message.new), key_columns: info.keyColumns, row: record, before, unchanged: unchanged.size ? unchanged : null });
  }

  private onRelation(relation: Relation) {
    const info = this.relation(relation, true);
    if (info.wanted) this.push({ kind: "schema", entity: info.entity, columns: relation.columns.map((c) => ({ name: c.name, type: String(c.typeOid) })), seed: false });
  }

  private relation(relation: Relation, refresh = false): RelationInfo {
    let info = refresh ? undefined : this.relations.get(relation.relationOid);
    if (!info) {
      const entity = entityName(relation.schema, relation.name);
      const described = this.entities.get(entity);
      info = { entity, wanted: !!described, keyColumns: described?.primary_key.length ? described.primary_key : relation.keyColumns };
      this.relations.set(relation.relationOid, info);
    }
    return info;
  }

  private requireTx(what: string) {
    if (!this.tx) throw new Error(`${what} outside a transaction`);
    return this.tx;
  }

  protected drained() {
    this.resume?.();
    this.resume = null;
  }

  /** A batching hint: nothing more received when the last commit handed out is the last change. */
  protected moreReceived() {
    return (this.session?.backlog() ?? 0) > 0;
  }

  async ack(cursor: string): Promise<void> {
    await this.session?.confirm(parseLsnCursor(cursor));
  }

  async ping(): Promise<void> {
    await this.session?.ping();
  }

  /** Ends the iteration at once (what was received but not handed out is dropped: the cursor only ever covers whole commits handed out), then the session. */
  async close(): Promise<void> {
    this.buffer = [];
    this.end(null);
    this.resume?.();
    this.resume = null;
    await this.session?.stop();
  }
}

function keyOf(info: RelationInfo, tuple: TextTuple): string[] {
  return info.keyColumns.map((k) => String(tuple[k] ?? "")); // a value of a mebibyte or more arrives as its UTF-8 bytes (REPLICA IDENTITY FULL: every column is a key column)
}
