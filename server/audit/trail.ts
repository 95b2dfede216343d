// The audit trail (docs/audit.md): who changed what, when, from where. Every change made through
// the console, the API or `ecm` is recorded once:
//   - in the change's own transaction where the change is our own database write (recordIn), so a
//     change that rolls back leaves no entry and a committed one always has its entry;
//   - right after it succeeded where it is not (recordAfter: the sign-in library's calls, a run
//     handed to the job queue).
// Who is calling is set once per request, by the procedure tiers (actingAs, server/api/trpc.ts):
// services do not pass it along. Work the product does by itself (the worker, the supervisor, the
// demo) has no actor and records nothing. Entries are append-only (a trigger in the store).
import { AsyncLocalStorage } from "node:async_hooks";
import type pg from "pg";
import type { Prisma } from "../../generated/prisma/client.ts";
import type { Principal } from "../auth/roles.ts";
import { inPgTransaction, pgPool } from "../db.ts";
import { logger } from "../logger.ts";
import { redact } from "../secrets/redact.ts";
import type { AuditAction } from "./actions.ts";

export { AUDIT_ACTIONS, type AuditAction } from "./actions.ts";

const log = logger("audit");

/** Who made a change: a console user or an API token (with the token's owner), and from where. */
export type Actor = {
  kind: "user" | "token";
  id: string;
  name: string;
  owner: { kind: "user" | "env"; id: string | null; name: string } | null;
  address: string | null;
};


export type AuditWrite = {
  action: AuditAction;
  /** The source the change concerns (null: none, e.g. a user or a token). */
  source_id?: string | null;
  /** What it touched: a kind ("source", "mapping_version", "run", "dead_letter", "user", "token", …) and its id. */
  target: { kind: string; id: string | null };
  /** What changed (secret-looking fields are redacted; never a secret's value, old or new). */
  details?: Record<string, unknown>;
};

const scope = new AsyncLocalStorage<Actor>();

/** Runs `work` as `actor`: the changes it makes are recorded under that name. */
export function actingAs<T>(actor: Actor, work: () => Promise<T>): Promise<T> {
  return scope.run(actor, work);
}

/** The actor of a request: its principal, and the client address the request guard settled (X-Forwarded-For, rewritten by scripts/web-server.ts). */
export function actorOf(principal: Principal, headers: Headers): Actor {
  const owner = principal.kind === "token" && principal.owner ? (principal.owner.kind === "env" ? { kind: "env" as const, id: null, name: "ECM_API_TOKEN" } : { kind: "user" as const, id: principal.owner.id, name: principal.owner.name }) : null;
  const address = headers.get("x-forwarded-for")?.split(",")[0]?.trim().slice(0, 64) || null;
  return { kind: principal.kind, id: principal.id, name: principal.name.slice(0, 200), owner, address };
}

/**
 * Details as stored: secret-looking fields redacted, and bounded (an entry is a record, not a
 * copy). Past the bound, each field that is small on its own stays (a version, an id, a name) and
 * the large ones (a long diff) are dropped, named in `truncated`.
 */
const MAX_DETAILS_CHARS = 64 * 1024;
const MAX_FIELD_CHARS = 4 * 1024;
function storedDetails(details: Record<string, unknown> | undefined): string {
  const safe = redact(details ?? {}) as Record<string, unknown>;
  const json = JSON.stringify(safe);
  if (json.length <= MAX_DETAILS_CHARS) return json;
  const kept: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const [k, v] of Object.entries(safe)) {
    if ((JSON.stringify(v) ?? "").length <= MAX_FIELD_CHARS) kept[k] = v;
    else dropped.push(k);
  }
  return JSON.stringify({ ...kept, truncated: { fields: dropped, size: json.length } });
}

const INSERT_SQL = `INSERT INTO audit_entries (actor_kind, actor_id, actor_name, owner_kind, owner_id, owner_name, client_address, action, source_id, target_kind, target_id, details)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::uuid, $10, $11, $12::jsonb)`;

function params(actor: Actor, entry: AuditWrite): unknown[] {
  return [actor.kind, actor.id, actor.name, actor.owner?.kind ?? null, actor.owner?.id ?? null, actor.owner?.name ?? null, actor.address, entry.action, entry.source_id ?? null, entry.target.kind, entry.target.id, storedDetails(entry.details)];
}

type Db = pg.ClientBase | Prisma.TransactionClient;

/** Records the change in its own transaction (`db`: a Prisma transaction or a pg client inside BEGIN). Nothing without an actor. */
export async function recordIn(db: Db, entry: AuditWrite): Promise<void> {
  const actor = scope.getStore();
  if (!actor) return;
  if ("query" in db && typeof db.query === "function") await (db as pg.ClientBase).query(INSERT_SQL, params(actor, entry));
  else await (db as Prisma.TransactionClient).$executeRawUnsafe(INSERT_SQL, ...params(actor, entry));
}

/**
 * Records a change that is not our own database write, once it succeeded. The change stands
 * whatever happens here: a store that cannot take the entry is logged as an error, not returned.
 */
export async function recordAfter(entry: AuditWrite): Promise<void> {
  const actor = scope.getStore();
  if (!actor) return;
  await pgPool()
    .query(INSERT_SQL, params(actor, entry))
    .catch((error) => log.error({ action: entry.action, target: entry.target, error }, "a change succeeded but its audit entry could not be recorded"));
}

/**
 * Runs `change` in one transaction of the store (a pg client) and records it there: both commit or
 * neither. `entry` null: nothing changed (an alert already resolved), nothing recorded.
 */
export function auditedSql<T>(change: (client: pg.ClientBase) => Promise<T>, entry: (result: T) => AuditWrite | null): Promise<T> {
  return inPgTransaction(async (client) => {
    const result = await change(client);
    const made = entry(result);
    if (made) await recordIn(client, made);
    return result;
  });
}
