// What a MySQL / MariaDB source does that the conformance kit does not: savepoints inside a
// transaction, binlog rotation under a running stream and across a restart, a TRUNCATE written
// with a comment, and a session logging minimal row images. Each ends with store = source. The
// stream's cursor carries the server's GTID set at its position, as the server itself computes it.
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { startWorker } from "../../worker/runtime.ts";
import { adminToken, api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createMysqlDatabase, type MysqlSource } from "../support/mysql-db.ts";
import { waitFor } from "../support/wait.ts";
import mysql from "mysql2/promise";

let src: MysqlSource;
let sourceId: string;
let editor: string;
let worker: Awaited<ReturnType<typeof startWorker>>;

const mapping = {
  mappings: [{ source: { table: "notes" }, target: { context_type: "note" }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }, { source: "body", target: "data.body" }] }],
};

async function storeEquals(): Promise<string | null> {
  const rows = await src.exec("SELECT id, v, body FROM notes ORDER BY id");
  const want = Object.fromEntries(rows.map((r) => [String(r.id), { v: Number(r.v), body: r.body }]));
  const stored = await withDb(async (c) => (await c.query("SELECT context_id, data FROM contexts WHERE context_type = 'note' AND source_id = $1 AND NOT deleted", [sourceId])).rows);
  const have = Object.fromEntries(stored.map((r: { context_id: string; data: unknown }) => [r.context_id, r.data]));
  return isDeepStrictEqual(want, have) ? null : `want ${JSON.stringify(want).slice(0, 300)}, have ${JSON.stringify(have).slice(0, 300)}`;
}
const converged = () => waitFor("the store to equal the source", async () => ((await storeEquals()) === null ? true : undefined), 30_000, 100).catch(async (e) => {
  throw new Error(`${(e as Error).message}: ${await storeEquals()}`);
});
const status = async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body;

/**
 * A cursor's GTID set names the same point as its binlog position: what the server itself says
 * of that position (MariaDB's BINLOG_GTID_POS), transactions of other databases included.
 */
async function expectGtidOfPosition(cursor: string) {
  const m = /^mysql_binlog:(.+):(\d+);gtid=(.*)$/.exec(cursor);
  expect(m, cursor).not.toBeNull();
  const [row] = await src.exec("SELECT BINLOG_GTID_POS(?, ?) AS gtid", [m![1], Number(m![2])]);
  const domains = (text: string) => text.split(",").sort(); // one entry per domain, in any order
  expect(domains(m![3]!)).toEqual(domains(String(row!.gtid)));
}

/** Runs statements on one session (savepoints and session settings need one). */
async function session(statements: string[]) {
  const c = await mysql.createConnection({ uri: src.url });
  try {
    for (const sql of statements) await c.query(sql);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters"));
  src = await createMysqlDatabase("ecm_mysql_stream", undefined, ["CREATE TABLE notes (id int PRIMARY KEY, v int NOT NULL, body text)", "INSERT INTO notes VALUES (1, 1, 'one'), (2, 2, 'two')"]);
  editor = (await createToken({ name: "e", role: "editor" }, { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" })).token;
  sourceId = (await api("POST", "/sources", { token: adminToken(), body: { name: "mysql-stream", config: src.config } })).body.id;
  worker = await startWorker();
  expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping })).status).toBe(200);
  const run = (await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id;
  await waitFor("the snapshot", async () => ((await api("GET", `/runs/${run}`, { token: editor })).body.status === "succeeded" ? true : undefined), 60_000);
  await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } });
  await waitFor("the stream", async () => ((await status()).stream.status === "streaming" ? true : undefined), 60_000);
}, 120_000);
afterAll(async () => {
  await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }).catch(() => {});
  await worker?.close();
});

describe("a MySQL source's stream", () => {
  it("applies a transaction with savepoints whole, without a cursor inside it", async () => {
    await session(["BEGIN", "INSERT INTO notes VALUES (10, 10, 'kept')", "SAVEPOINT s1", "INSERT INTO notes VALUES (11, 11, 'rolled back')", "ROLLBACK TO s1", "UPDATE notes SET v = 100 WHERE id = 1", "COMMIT"]);
    await converged();
    const cursor = (await status()).cursor as string;
    expect(cursor).toMatch(/^mysql_binlog:.+:\d+;gtid=[\d,-]+$/);
    expect(cursor).not.toMatch(/:0;/);
    await expectGtidOfPosition(cursor);
  });

  it("applies an XA transaction, and DDL after it still moves the cursor", async () => {
    await session(["XA START 'ecm1'", "INSERT INTO notes VALUES (12, 12, 'xa')", "UPDATE notes SET v = 101 WHERE id = 1", "XA END 'ecm1'", "XA PREPARE 'ecm1'", "XA COMMIT 'ecm1'"]);
    await converged();
    const before = (await status()).cursor as string;
    await src.exec("CREATE TABLE unrelated (id int PRIMARY KEY)");
    await waitFor("the cursor to move past the DDL", async () => ((await status()).cursor !== before ? true : undefined), 30_000);
    await expectGtidOfPosition((await status()).cursor as string); // XA PREPARE, XA COMMIT and DDL are event groups of their own
  });

  it("goes on across binlog files, and resumes after a restart from a cursor in the new file", async () => {
    await src.exec("INSERT INTO notes VALUES (20, 20, 'before rotation')");
    await src.exec("FLUSH BINARY LOGS");
    await src.exec("INSERT INTO notes VALUES (21, 21, 'after rotation')");
    await converged();
    const [{ File: file }] = (await src.exec("SHOW MASTER STATUS")) as [{ File: string }];
    await waitFor("the cursor in the new file", async () => (((await status()).cursor as string | null)?.includes(file) ? true : undefined), 30_000);
    await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } });
    await waitFor("the stream to stop", async () => ((await status()).stream.owner === null ? true : undefined), 30_000);
    await src.exec("UPDATE notes SET v = v + 1 WHERE id >= 20");
    await src.exec("FLUSH BINARY LOGS");
    await src.exec("DELETE FROM notes WHERE id = 2");
    await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } });
    await converged();
    expect((await status()).state).toBe("streaming");
    // The GTID set went on from the restart's cursor.
    await expectGtidOfPosition((await status()).cursor as string);
  });

  it("empties the entity on a TRUNCATE written with comments and quotes", async () => {
    await src.exec("/* nightly */ TRUNCATE TABLE `notes`");
    await src.exec("INSERT INTO notes VALUES (30, 30, 'after truncate')");
    await converged();
  });

  it("keeps the stored value of a column a minimal row image leaves out", async () => {
    await src.exec("INSERT INTO notes VALUES (40, 40, 'a long body')");
    await converged();
    await session(["SET SESSION binlog_row_image = 'MINIMAL'", "UPDATE notes SET v = 41 WHERE id = 40"]);
    await converged();
    // A key change under a minimal image: the old context is tombstoned, the new one written.
    await session(["SET SESSION binlog_row_image = 'MINIMAL'", "UPDATE notes SET id = 41 WHERE id = 40"]);
    await waitFor("the moved key", async () => {
      const rows = (await withDb((c) => c.query("SELECT context_id, deleted FROM contexts WHERE context_type = 'note' AND context_id IN ('40', '41') ORDER BY context_id"))).rows;
      return rows.length === 2 && rows[0].deleted && !rows[1].deleted ? true : undefined;
    }, 30_000);
  });
});
