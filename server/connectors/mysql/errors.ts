// mysql2's errors as the pipeline's categories. A server error carries an ER_* code and a SQLSTATE;
// a connection failure a Node or PROTOCOL_* code. Known codes first, then the SQLSTATE's class, so
// an error this table has not met is judged by its class, never FATAL by default.
import type { SourceClassifier } from "../../errors/origin.ts";

type Category = "TRANSIENT" | "CONFIGURATION" | "DATA" | "FATAL";

const CODES = new Map<string, [Category, string]>([
  ["PROTOCOL_CONNECTION_LOST", ["TRANSIENT", "the server closed the connection"]],
  ["PROTOCOL_SEQUENCE_TIMEOUT", ["TRANSIENT", "the server stopped answering"]],
  ["ECONNRESET", ["TRANSIENT", "network error"]],
  ["ECONNREFUSED", ["TRANSIENT", "network error"]],
  ["ETIMEDOUT", ["TRANSIENT", "network error"]],
  ["EPIPE", ["TRANSIENT", "network error"]],
  ["EHOSTUNREACH", ["TRANSIENT", "network error"]],
  ["ENETUNREACH", ["TRANSIENT", "network error"]],
  ["ENOTFOUND", ["CONFIGURATION", "the host name does not resolve"]],
  ["ER_CON_COUNT_ERROR", ["TRANSIENT", "the server has no free connections"]],
  ["ER_SERVER_SHUTDOWN", ["TRANSIENT", "the server is shutting down"]],
  ["ER_LOCK_DEADLOCK", ["TRANSIENT", "deadlock"]],
  ["ER_LOCK_WAIT_TIMEOUT", ["TRANSIENT", "lock wait timeout"]],
  ["ER_QUERY_INTERRUPTED", ["TRANSIENT", "the query was interrupted"]],
  ["ER_ACCESS_DENIED_ERROR", ["CONFIGURATION", "authentication failed"]],
  ["ER_DBACCESS_DENIED_ERROR", ["CONFIGURATION", "no access to the database"]],
  ["ER_TABLEACCESS_DENIED_ERROR", ["CONFIGURATION", "no access to a table"]],
  ["ER_COLUMNACCESS_DENIED_ERROR", ["CONFIGURATION", "no access to a column"]],
  ["ER_SPECIFIC_ACCESS_DENIED_ERROR", ["CONFIGURATION", "a privilege is missing"]],
  ["ER_BAD_DB_ERROR", ["CONFIGURATION", "the database does not exist"]],
  ["ER_NO_SUCH_TABLE", ["CONFIGURATION", "the table does not exist"]],
  ["ER_BAD_FIELD_ERROR", ["CONFIGURATION", "a column does not exist"]],
  ["ER_NOT_SUPPORTED_AUTH_MODE", ["CONFIGURATION", "the authentication method is not supported"]],
  ["HANDSHAKE_SSL_ERROR", ["CONFIGURATION", "TLS"]],
  ["HANDSHAKE_NO_SSL_SUPPORT", ["CONFIGURATION", "TLS"]],
  ["PUBLIC_KEY_RETRIEVAL_NOT_ALLOWED", ["CONFIGURATION", "the password would be sent to an unverified key"]],
  ["AUTH_SWITCH_PLUGIN_ERROR", ["CONFIGURATION", "the authentication method is not supported"]],
  // The binlog position asked for is gone (purged) or unreadable: only a full re-snapshot recovers.
  ["ER_SOURCE_FATAL_ERROR_READING_BINLOG", ["FATAL", "the binlog position can no longer be read"]],
]);

/** SQLSTATE classes: connection (08) and rollback (40) are retried; access and syntax (28, 42, 3D) are configuration; data (22, 23) is the record's. */
const CLASSES = new Map<string, Category>([
  ["08", "TRANSIENT"],
  ["40", "TRANSIENT"],
  ["HY", "TRANSIENT"],
  ["28", "CONFIGURATION"],
  ["42", "CONFIGURATION"],
  ["3D", "CONFIGURATION"],
  ["0A", "CONFIGURATION"],
  ["22", "DATA"],
  ["23", "DATA"],
]);

export const classifyMysqlError: SourceClassifier = (error) => {
  const e = error as { code?: unknown; errno?: unknown; sqlState?: unknown; fatal?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : null;
  // 1236 also says a newer reader with the same server id took the binlog over (a restarted worker's).
  if (e?.errno === 1236 && /same server_uuid\/server_id|same server_id/i.test(String(e.message))) return { category: "TRANSIENT", code, reason: "another reader of this source took the binlog over" };
  // MariaDB's ER_CONNECTION_KILLED, which mysql2 has no name for.
  if (e?.errno === 1927) return { category: "TRANSIENT", code: "1927", reason: "the connection was killed" };
  const known = code ? CODES.get(code) : undefined;
  if (known) return { category: known[0], code, reason: known[1] };
  const state = typeof e?.sqlState === "string" ? e.sqlState : null;
  const byClass = state ? CLASSES.get(state.slice(0, 2)) : undefined;
  if (byClass) return { category: byClass, code: code ?? state, reason: `SQLSTATE ${state}` };
  // A connection-level failure mysql2 marks fatal (the connection is gone) is worth a retry.
  if (e?.fatal === true) return { category: "TRANSIENT", code, reason: "the connection failed" };
  return null;
};
