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

/**
 * The publication holds at least these entities, and the slot exists: kept when it does, unless
 * `replace` (then dropped, ending a session that still reads it, and created anew).
 */
export async function ensureCapture(client: pg.Client, names: CaptureNames, entities: DescribedEntity[], opts: { replace: boolean }): Promise<CaptureState> {
  const { added } = await ensurePublication(client, names, entities);
  let slot = await slotInfo(client, names.slot);
  if (slot.exists && opts.replace) {
    await dropSlot(client, names.slot);
    slot = await slotInfo(client, names.slot);
  }
  if (slot.exists) return { slot_created: false, slot_lsn: null, tables_added: added };
  try {
    const { rows } = await client.query<{ lsn: string }>("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", [names.slot]);
    return { slot_created: true, slot_lsn: rows[0]!.lsn, tables_added: added };
  } catch (error) {
    privilegeError(error, `create replication slot ${names.slot}`, "The source user needs the REPLICATION attribute, wal_level must be logical, and a free slot (max_replication_slots).");
  }
}

/** Drops a slot, ending a session that still reads it (a stale walsender). */
async function dropSlot(client: pg.Client, slot: string) {
  for (let attempt = 0; ; attempt++) {
    const info = await slotInfo(client, slot);
    if (!info.exists) return;
    if (info.active_pid) await client.query("SELECT pg_terminate_backend($1)", [info.active_pid]);
    try {
      await client.query("SELECT pg_drop_replication_slot($1)", [slot]);
      return;
    } catch (error) {
      // 55006: still active (the terminated session has not exited yet).
      if ((error as { code?: string }).code !== "55006" || attempt >= 40) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The server and database being read: system identifier (kept by a physical standby) and database OID. */
export async function serverIdentity(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    "SELECT (SELECT system_identifier::text FROM pg_control_system()) || '/' || (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS id",
  );
  return `pg:${rows[0]!.id}`;
}

/**
 * Makes the publication hold exactly these entities (mapping changes add and remove tables).
 * Returns what changed. Publication first, so a table's changes are decoded from then on.
 */
export async function syncPublication(client: pg.Client, names: CaptureNames, entities: DescribedEntity[]): Promise<{ added: string[]; removed: string[] }> {
  const q = (id: string) => client.escapeIdentifier(id);
  const { added, before } = await ensurePublication(client, names, entities);
  const want = new Set(entities.map((e) => `${e.schema}.${e.table}`));
  const extra = before.filter((r) => !want.has(`${r.schemaname}.${r.tablename}`));
  try {
    if (extra.length) await client.query(`ALTER PUBLICATION ${q(names.publication)} DROP TABLE ${extra.map((r) => `${q(r.schemaname)}.${q(r.tablename)}`).join(", ")}`);
  } catch (error) {
    privilegeError(error, `alter publication ${names.publication}`, "The source user needs ownership of the published tables.");
  }
  return { added, removed: extra.map((r) => (r.schemaname === "public" ? r.tablename : `${r.schemaname}.${r.tablename}`)) };
}

type PublishedTable = { schemaname: string; tablename: string };

/** The publication holds at least these entities; returns the ones added and what it held before. */
async function ensurePublication(client: pg.Client, names: CaptureNames, entities: DescribedEntity[]): Promise<{ added: string[]; before: PublishedTable[] }> {
  const q = (id: string) => client.escapeIdentifier(id);
  const exists = await client.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [names.publication]);
  try {
    if (!exists.rowCount) {
      await client.query(`CREATE PUBLICATION ${q(names.publication)} FOR TABLE ${entities.map((e) => `${q(e.schema)}.${q(e.table)}`).join(", ")} WITH (publish_via_partition_root = true)`);
      return { added: entities.map((e) => e.name), before: [] };
    }
    const { rows } = await client.query<PublishedTable>("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1", [names.publication]);
    const have = new Set(rows.map((r) => `${r.schemaname}.${r.tablename}`));
    const missing = entities.filter((e) => !have.has(`${e.schema}.${e.table}`));
    if (missing.length) await client.query(`ALTER PUBLICATION ${q(names.publication)} ADD TABLE ${missing.map((e) => `${q(e.schema)}.${q(e.table)}`).join(", ")}`);
    return { added: missing.map((e) => e.name), before: rows };
  } catch (error) {
    privilegeError(error, `set up publication ${names.publication}`, "The source user needs CREATE on the database and ownership of the mapped tables (or a superuser can create the publication).");
  }
}

export type SlotInfo = {
  exists: boolean;
  active: boolean | null;
  active_pid: number | null;
  wal_status: string | null;
  confirmed_flush_lsn: string | null;
  current_lsn: string;
  retained_bytes: number | null;
  lag_bytes: number | null;
};

export async function slotInfo(client: pg.Client, slot: string): Promise<SlotInfo> {
  const { rows } = await client.query<SlotInfo & { found: boolean }>(
    `SELECT s.slot_name IS NOT NULL AS found, s.active, s.active_pid, s.wal_status, s.confirmed_flush_lsn::text AS confirmed_flush_lsn,
            pg_current_wal_lsn()::text AS current_lsn,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::float8 AS retained_bytes,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::float8 AS lag_bytes
     FROM (SELECT 1) one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`,
    [slot],
  );
  const r = rows[0]!;
  return {
    exists: r.found,
    active: r.active ?? null,
    active_pid: r.active_pid ?? null,
    wal_status: r.wal_status ?? null,
    confirmed_flush_lsn: r.confirmed_flush_lsn ?? null,
    current_lsn: r.current_lsn,
    retained_bytes: r.retained_bytes ?? null,
    lag_bytes: r.lag_bytes ?? null,
  };
}

/** The SQL an operator can run on the source to remove what ECM Connect set up there. */
export function dropCaptureSql(names: CaptureNames): string {
  const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;
  return `SELECT pg_drop_replication_slot(${literal(names.slot)}) FROM pg_replication_slots WHERE slot_name = ${literal(names.slot)}; DROP PUBLICATION IF EXISTS "${names.publication.replaceAll('"', '""')}";`;
}

/**
 * Removes the slot (ending a session that still holds it: a stream just stopped, a dead worker's
 * walsender) and the publication. Returns what existed. Throws with the SQL to run when it cannot.
 */
export async function dropCapture(client: pg.Client, names: CaptureNames): Promise<{ slot: boolean; publication: boolean }> {
  try {
    const slotExisted = (await slotInfo(client, names.slot)).exists;
    await dropSlot(client, names.slot);
    const pub = await client.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [names.publication]);
    if (pub.rowCount) await client.query(`DROP PUBLICATION ${client.escapeIdentifier(names.publication)}`);
    return { slot: slotExisted, publication: !!pub.rowCount };
  } catch (error) {
    throw new AppError("CONFLICT", `could not remove replication slot ${names.slot} and publication ${names.publication} from the source: ${(error as Error).message}. Run on the source: ${dropCaptureSql(names)}`, {
      category: "CONFIGURATION",
      cause: error,
    });
  }
}
