// Hard deletes after a run: the tombstones that guarded rows while a snapshot or replay of the
// source ran can go once it has ended (see purgeTombstones in store/contexts.ts).
import { pgPool } from "../db.ts";
import { getSource } from "../sources/service.ts";
import { purgeTombstones } from "../store/contexts.ts";

/** Removes a hard-delete source's tombstones (none while a snapshot or replay runs); returns how many. */
export async function purgeTombstonesOf(sourceId: string): Promise<number> {
  const { config } = await getSource(sourceId);
  return config.options.deletes === "hard" ? purgeTombstones(pgPool(), sourceId) : 0;
}
