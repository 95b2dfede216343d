// One writer of a source's change-capture set-up at a time, across every web and worker process:
// a snapshot adding newly mapped tables to the publication, a stream syncing the publication to
// its mapping (which removes tables), and a source being deleted (which drops it all) would
// otherwise interleave. A stream on an older mapping could remove a table a snapshot had just
// added (the table's changes until it is added back would never be decoded), or a snapshot could
// recreate a slot a deletion had just dropped. Under this lock the stream first checks that its
// mapping is still the latest (a snapshot adds tables only after their mapping was saved), a
// snapshot checks that its source still exists, and concurrent ADD TABLEs cannot collide.
//
// The lock is held on a connection of its own, not one of the pool: a holder that also needs
// pooled connections (to read the mapping) can never starve the pool, and ending that connection
// releases the lock whatever happened. Waiting for it is bounded (lock_timeout: TRANSIENT 55P03).
import pg from "pg";
import { env } from "../env.ts";

const CAPTURE_LOCK_WAIT_SECONDS = 120;

/** Runs `fn` holding the source's capture lock; `fn` gets the lock's connection for its own reads. */
export async function withCaptureLock<T>(sourceId: string, fn: (db: pg.ClientBase) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: env().DATABASE_URL, application_name: "ecm-capture-lock" });
  client.on("error", () => {}); // surfaced through the failing query
  await client.connect();
  try {
    await client.query(`SET lock_timeout = '${CAPTURE_LOCK_WAIT_SECONDS}s'`);
    await client.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [`ecm-capture:${sourceId}`]);
    return await fn(client);
  } finally {
    await client.end().catch(() => {}); // ends the session: the lock goes with it
  }
}

/** The source's latest mapping version (0 before the first), read now. */
export async function latestMappingVersion(db: pg.ClientBase, sourceId: string): Promise<number> {
  const { rows } = await db.query<{ v: number }>("SELECT coalesce(max(version), 0) AS v FROM mapping_versions WHERE source_id = $1", [sourceId]);
  return rows[0]!.v;
}

/** Whether the source is still registered (a deletion drops its capture under the lock, then the row). */
export async function sourceExists(db: pg.ClientBase, sourceId: string): Promise<boolean> {
  return !!(await db.query("SELECT 1 FROM sources WHERE id = $1", [sourceId])).rowCount;
}
