// Reading the audit trail (admins: the Audit page, GET /api/v1/audit, `ecm audit`) and keeping it
// to its retention (ECM_AUDIT_RETENTION_DAYS), which the supervisor enforces (purgeExpiredAudit).
import { z } from "zod";
import { inPgTransaction, pgPool } from "../db.ts";
import { env } from "../env.ts";
import { logger } from "../logger.ts";
import { AUDIT_ACTIONS } from "./trail.ts";

const log = logger("audit");

export const ZAuditEntry = z.object({
  id: z.string().describe("Increasing: newer entries have larger ids"),
  at: z.string(),
  actor: z.object({
    kind: z.enum(["user", "token"]),
    id: z.string(),
    name: z.string(),
    owner: z.object({ kind: z.enum(["user", "env"]), id: z.string().nullable(), name: z.string() }).nullable().describe("A token's owner: the user it acts for, or ECM_API_TOKEN"),
  }),
  client_address: z.string().nullable(),
  action: z.string().describe(`The kind of change: ${AUDIT_ACTIONS.join(", ")}`),
  source_id: z.string().nullable(),
  target: z.object({ kind: z.string(), id: z.string().nullable() }).describe("What the change touched: a source, mapping_version, run, stream, entity, dead_letter, alert, user or token"),
  details: z.record(z.string(), z.unknown()).describe("What changed (a mapping's diff, a cursor before and after, a request's scope); never a secret"),
});
export type TAuditEntry = z.infer<typeof ZAuditEntry>;

export const ZAuditFilter = z
  .object({
    actor: z.string().min(1).max(200).optional().describe("A user's or token's id or name (a user also finds the changes of the tokens they own)"),
    source_id: z.uuid().optional(),
    action: z.enum(AUDIT_ACTIONS).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    limit: z.number().int().min(1).max(200).default(50),
    cursor: z.string().regex(/^\d{1,18}$/, "a next_cursor from an earlier page").optional(),
  });

type Row = {
  id: string;
  at: Date;
  actor_kind: "user" | "token";
  actor_id: string;
  actor_name: string;
  owner_kind: "user" | "env" | null;
  owner_id: string | null;
  owner_name: string | null;
  client_address: string | null;
  action: string;
  source_id: string | null;
  target_kind: string;
  target_id: string | null;
  details: Record<string, unknown>;
};

const toDto = (r: Row): TAuditEntry => ({
  id: r.id,
  at: r.at.toISOString(),
  actor: { kind: r.actor_kind, id: r.actor_id, name: r.actor_name, owner: r.owner_kind ? { kind: r.owner_kind, id: r.owner_id, name: r.owner_name ?? "" } : null },
  client_address: r.client_address,
  action: r.action,
  source_id: r.source_id,
  target: { kind: r.target_kind, id: r.target_id },
  details: r.details,
});

/** Entries newest first, filtered, a page at a time (next_cursor: where the next page starts). */
export async function listAudit(filter: z.output<typeof ZAuditFilter>) {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  if (filter.actor) {
    const who = p(filter.actor);
    where.push(`(actor_id = ${who} OR actor_name = ${who} OR owner_id = ${who} OR owner_name = ${who})`);
  }
  if (filter.source_id) where.push(`source_id = ${p(filter.source_id)}::uuid`);
  if (filter.action) where.push(`action = ${p(filter.action)}`);
  if (filter.since) where.push(`at >= ${p(filter.since)}::timestamptz`);
  if (filter.until) where.push(`at < ${p(filter.until)}::timestamptz`);
  if (filter.cursor) where.push(`id < ${p(filter.cursor)}::bigint`);
  const { rows } = await pgPool().query<Row>(
    `SELECT id::text, at, actor_kind, actor_id, actor_name, owner_kind, owner_id, owner_name, client_address, action, source_id::text, target_kind, target_id, details
     FROM audit_entries ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY audit_entries.id DESC LIMIT ${p(filter.limit + 1)}`,
    params,
  );
  const page = rows.slice(0, filter.limit);
  return { entries: page.map(toDto), next_cursor: rows.length > filter.limit ? page[page.length - 1]!.id : null };
}

const PURGE_CHUNK = 10_000;

/**
 * Removes the entries older than the retention, a chunk per transaction (the only deletes the
 * append-only trigger lets through: this transaction says so with ecm.audit_retention). Returns how many.
 */
export async function purgeExpiredAudit(retentionDays = env().ECM_AUDIT_RETENTION_DAYS, chunk = PURGE_CHUNK): Promise<number> {
  let removed = 0;
  for (;;) {
    const deleted = await inPgTransaction(
      async (client) =>
        (await client.query("DELETE FROM audit_entries WHERE id IN (SELECT id FROM audit_entries WHERE at < now() - make_interval(days => $1) ORDER BY id LIMIT $2)", [retentionDays, chunk])).rowCount ?? 0,
      "BEGIN; SET LOCAL ecm.audit_retention = 'on'",
    );
    removed += deleted;
    if (deleted < chunk) break;
  }
  if (removed) log.info({ removed, retention_days: retentionDays }, "audit entries past their retention removed");
  return removed;
}
