// One writer of a source's change-capture set-up at a time, across every web and worker process:
// a snapshot adding newly mapped tables to the publication, and a stream syncing the publication
// to its mapping (which removes tables), would otherwise interleave. A stream on an older mapping
// could then remove a table a snapshot had just added: the table's changes until it is added back
// would never be decoded. Under this lock the stream first checks that its mapping is still the
// latest (a snapshot adds tables only after their mapping was saved), and concurrent ADD TABLEs
// cannot collide ("already member of publication").
import { pgPool } from "../db.ts";

export async function withCaptureLock<T>(sourceId: string, fn: () => Promise<T>): Promise<T> {
  const client = await pgPool().connect();
  const key = `ecm-capture:${sourceId}`;
  try {
    await client.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [key]);
    return await fn();
  } finally {
    await client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [key]).catch(() => {});
    client.release();
  }
}

/** The source's latest mapping version (0 before the first), read now. */
export async function latestMappingVersion(sourceId: string): Promise<number> {
  const { rows } = await pgPool().query<{ v: number }>("SELECT coalesce(max(version), 0) AS v FROM mapping_versions WHERE source_id = $1", [sourceId]);
  return rows[0]!.v;
}
