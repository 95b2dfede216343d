// A server's GTID state, as it writes it: MariaDB's position (the last transaction per replication
// domain, `0-1-1234,1-2-45`) or MySQL's set (the transactions per source, `3E11FA47-…:1-5,…`).
// @vlasky/zongji parses both; a stream adds each transaction as its commit is read (./changes.ts),
// so a cursor names the same point as its binlog position, in a form another server of the same
// topology also knows.
import { GtidSet, MariadbGtidPosition } from "@vlasky/zongji";
import type mysql from "mysql2/promise";
import { AppError } from "../../errors/app-error.ts";
import type { BinlogPosition } from "./binlog-cursor.ts";
import { textRows } from "./catalog.ts";

/** A transaction's GTID as the binlog gives it (MariaDB's GTID event fields, or MySQL's `uuid:gno`). */
export type Gtid = { domainId: number; serverId: number; seqNo: number | string } | string;

export class GtidState {
  private constructor(private readonly state: MariadbGtidPosition | GtidSet) {}

  /** Throws a field-path error for what is not a GTID set or position. */
  static parse(text: string, field = "cursor"): GtidState {
    try {
      // A MySQL set always holds ':' (uuid:interval), a MariaDB position never does.
      return new GtidState(text.includes(":") ? GtidSet.parse(text) : MariadbGtidPosition.parse(text));
    } catch (e) {
      throw AppError.invalid([{ path: field, message: `the GTID set after ;gtid= is not one a server writes: ${(e as Error).message.slice(0, 120)}` }]);
    }
  }

  add(gtid: Gtid) {
    if (typeof gtid === "string") {
      if (this.state instanceof GtidSet) this.state.add(gtid);
    } else if (this.state instanceof MariadbGtidPosition) this.state.add(gtid);
  }

  toString(): string {
    return this.state.toString();
  }
}

/**
 * MariaDB's GTID position at a binlog position (BINLOG_GTID_POS); null where the server cannot say
 * (MySQL has no such function: its set is known only at the binlog's end, SHOW MASTER STATUS).
 */
export async function gtidAt(c: mysql.Connection, at: BinlogPosition): Promise<string | null> {
  try {
    const [row] = await textRows(c, "SELECT BINLOG_GTID_POS(?, ?) AS gtid", [at.file, at.position]);
    return row?.gtid ?? null;
  } catch (e) {
    if ((e as { code?: string }).code === "ER_SP_DOES_NOT_EXIST") return null;
    throw e;
  }
}
