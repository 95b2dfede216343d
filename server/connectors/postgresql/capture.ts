// Change capture set-up on the source, done before a snapshot's first read: the publication
// (which tables pgoutput decodes; it must already hold a table when its changes are written)
// and then the replication slot (from whose start every committed change is kept). A change that
// commits while the snapshot runs is therefore either in the snapshot or in the slot, or both.
import type pg from "pg";
import { AppError } from "../../errors/app-error.ts";
import type { DescribedEntity } from "./catalog.ts";

export type CaptureNames = { publication: string; slot: string };
export type CaptureState = { slot_created: boolean; slot_lsn: string | null; tables_added: string[] };

function privilegeError(error: unknown, what: string, hint: string): never {
  const e = error as { code?: string; message?: string };
  if (e.code === "42501" || e.code === "55000") {
    throw new AppError("BAD_REQUEST", `cannot ${what}: ${e.message}. ${hint}`, { category: "CONFIGURATION", cause: error });
  }
  throw error;
}

export async function ensureCapture(client: pg.Client, names: CaptureNames, entities: DescribedEntity[]): Promise<CaptureState> {
  const q = (id: string) => client.escapeIdentifier(id);
  const tables = entities.map((e) => `${q(e.schema)}.${q(e.table)}`);
  const exists = await client.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [names.publication]);
  let added: string[] = [];
  try {
    if (!exists.rowCount) {
      // Partitions publish as their root table, so a partitioned entity streams under one name.
      await client.query(`CREATE PUBLICATION ${q(names.publication)} FOR TABLE ${tables.join(", ")} WITH (publish_via_partition_root = true)`);
      added = entities.map((e) => e.name);
    } else {
      const { rows } = await client.query<{ schemaname: string; tablename: string }>(
        "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1",
        [names.publication],
      );
      const have = new Set(rows.map((r) => `${r.schemaname}.${r.tablename}`));
      const missing = entities.filter((e) => !have.has(`${e.schema}.${e.table}`));
      if (missing.length) {
        await client.query(`ALTER PUBLICATION ${q(names.publication)} ADD TABLE ${missing.map((e) => `${q(e.schema)}.${q(e.table)}`).join(", ")}`);
        added = missing.map((e) => e.name);
      }
    }
  } catch (error) {
    privilegeError(error, `set up publication ${names.publication}`, "The source user needs CREATE on the database and ownership of the mapped tables (or a superuser can create the publication).");
  }

  const slot = await client.query<{ wal_status: string | null }>("SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1", [names.slot]);
  if (slot.rows[0]?.wal_status === "lost") {
    throw new AppError("CONFLICT", `replication slot ${names.slot} is lost: changes since it was lost cannot be read. Re-snapshot the source.`, { category: "FATAL" });
  }
  if (slot.rowCount) return { slot_created: false, slot_lsn: null, tables_added: added };
  try {
    const { rows } = await client.query<{ lsn: string }>("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", [names.slot]);
    return { slot_created: true, slot_lsn: rows[0]!.lsn, tables_added: added };
  } catch (error) {
    privilegeError(error, `create replication slot ${names.slot}`, "The source user needs the REPLICATION attribute, wal_level must be logical, and a free slot (max_replication_slots).");
  }
}
