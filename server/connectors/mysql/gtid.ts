// MariaDB's GTID state as the server writes it: the last event group per replication domain
// (`0-1-1234,1-2-45`), parsed and folded by @vlasky/zongji's MariadbGtidPosition. A stream adds each
// event group as it ends (./changes.ts), so each cursor names the same point as its binlog
// position, in the form the other servers of its replication topology know too.
//
// MySQL's GTID sets are not carried: MySQL says its set only at the binlog's end (SHOW MASTER
// STATUS), read apart from the position (a transaction in group commit is in the binlog before it
// is in gtid_executed), so a stream started mid-file has no exact set to start from
// (docs/connectors.md).
import { MariadbGtidPosition } from "@vlasky/zongji";
import { AppError } from "../../errors/app-error.ts";

/** A MariaDB event group's GTID, as its GTID event gives it. */
export type Gtid = { domainId: number; serverId: number; seqNo: number | string };

/** Throws a field-path error for what is not a MariaDB GTID position. */
export function parseGtidPosition(text: string, field = "cursor"): MariadbGtidPosition {
  try {
    return MariadbGtidPosition.parse(text);
  } catch (e) {
    throw AppError.invalid([{ path: field, message: `the GTID position after ;gtid= is not one MariaDB writes (domain-server-sequence, comma-separated): ${(e as Error).message.slice(0, 120)}` }]);
  }
}
