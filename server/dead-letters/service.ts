// Dead letters as the API shows them; discarding; and replay, which re-reads each record from
// the source (so a fixed row is picked up) and maps it with the mapping in force now (so a fixed
// mapping is too). Replay is idempotent: only open dead letters are replayed.
import { auditedSql, recordAfter } from "../audit/trail.ts";
import { z } from "zod";
import type { Principal } from "../auth/roles.ts";
import { AppError } from "../errors/app-error.ts";
import { enqueueRun } from "../runs/service.ts";
import { decodeCursor, encodeCursor } from "../pagination.ts";
import { pgPool } from "../db.ts";
import { requireCapability } from "../connectors/types.ts";
import { compileMapping } from "../mapping/compile.ts";
import { getMappings, transformEnv } from "../mapping/service.ts";
import { mapRecord, type Mapped } from "../pipeline/records.ts";
import { shownKey } from "../secrets/redact.ts";
import { withConnector } from "../sources/connectivity.ts";
import * as store from "../store/dead-letters.ts";
import { commitBatch } from "../store/unit-of-work.ts";
import { createRun } from "../store/runs.ts";

export const ZDeadLetter = z.object({
  id: z.uuid(),
  source_id: z.uuid(),
  run_id: z.uuid().nullable(),
  entity: z.string(),
  context_type: z.string(),
  key: z.array(z.string()).describe("the record's key in its text form; a value of a key column whose name looks secret is \"[redacted]\""),
  key_columns: z.array(z.string()).describe("the key's column names (empty for dead letters recorded before they were kept)"),
  cursor: z.string().nullable(),
  category: z.string(),
  error: z.object({ message: z.string(), code: z.string().optional(), field: z.string().nullable().optional(), transform: z.string().nullable().optional() }),
  payload: z.record(z.string(), z.unknown()),
  mapping_version: z.number(),
  attempts: z.number(),
  status: z.enum(["open", "replayed", "discarded"]),
  outcome: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  resolved_at: z.string().nullable(),
});

export const ZDeadLetterFilter = z
  .object({
    source_id: z.uuid().optional(),
    category: z.enum(["TRANSIENT", "CONFIGURATION", "DATA", "FATAL"]).optional(),
    status: z.enum(["open", "replayed", "discarded"]).optional(),
    entity: z.string().optional(),
    // Created at or after / before these instants (ISO 8601).
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export const ZListDeadLettersInput = ZDeadLetterFilter.extend({ limit: z.number().int().min(1).max(500).default(50), cursor: z.string().optional() });

/** Exactly one of `ids` and `filter` (one object, so the public API's body has one schema). */
export const ZReplayInput = z
  .object({
    ids: z.array(z.uuid()).min(1).max(10_000).optional().describe("these dead letters (only open ones are replayed)"),
    filter: ZDeadLetterFilter.optional().describe("every open dead letter matching, of one source"),
  })
  .strict();

/** As the API shows it: a key column's value under a secret-looking name redacted. */
const toDto = ({ position: _p, generation: _g, snapshot: _s, ...row }: store.DeadLetterRow) => ({ ...row, key: shownKey(row.key, row.key_columns) });

export async function listDeadLetters(input: z.output<typeof ZListDeadLettersInput>) {
  const { limit, cursor, ...filter } = input;
  const rows = await store.listDeadLetters(filter, limit + 1, cursor ? (decodeCursor(cursor, 2) as [string, string]) : null);
  const page = rows.slice(0, limit);
  return { dead_letters: page.map(toDto), next_cursor: rows.length > limit ? encodeCursor([page[page.length - 1]!.created_at, page[page.length - 1]!.id]) : null };
}

export async function getDeadLetter(id: string) {
  const [row] = await store.getDeadLetters([id]);
  if (!row) throw AppError.notFound(`dead letter ${id}`);
  return toDto(row);
}

export async function discardDeadLetter(id: string) {
  const letter = await getDeadLetter(id);
  await auditedSql(
    (client) => store.resolveDeadLetter(client, id, "discarded", "discarded by a user"),
    (changed) => (changed ? { action: "dead_letter.discard", source_id: letter.source_id, target: { kind: "dead_letter", id }, details: { entity: letter.entity, context_type: letter.context_type } } : null),
  );
  return getDeadLetter(id);
}

/** Queues a replay of the given dead letters, or of all open ones matching a filter (one source at a time). */
export async function startReplay(input: z.output<typeof ZReplayInput>, by: Principal) {
  if (Boolean(input.ids) === Boolean(input.filter)) {
    throw AppError.invalid([{ path: input.ids ? "filter" : "ids", message: 'send either "ids" or "filter", not both and not neither' }]);
  }
  const ids = input.ids ?? (await store.idsMatching({ ...input.filter, status: "open" }, 10_000));
  const rows = await store.getDeadLetters(ids);
  if (!rows.length) throw AppError.invalid([{ path: input.ids ? "ids" : "filter", message: "no dead letters match" }]);
  const sources = new Set(rows.map((r) => r.source_id));
  if (sources.size > 1) throw AppError.invalid([{ path: input.ids ? "ids" : "filter.source_id", message: "replay one source at a time" }]);
  const run = await createRun({ sourceId: rows[0]!.source_id, kind: "replay", request: { count: rows.length }, createdBy: by.name });
  await enqueueRun(run.id, "dead_letters.replay", { run_id: run.id, ids: rows.map((r) => r.id) }, `replay-${run.id}`);
  await recordAfter({
    action: "dead_letter.replay",
    source_id: rows[0]!.source_id,
    target: { kind: "run", id: run.id },
    details: { count: rows.length, ...(input.filter ? { filter: input.filter } : { ids: rows.slice(0, 100).map((r) => r.id) }) },
  });
  return { run_id: run.id };
}

export type ReplayCounters = { read: number; written: number; dead_lettered: number; retried: number; collisions: number };

/**
 * Replays open dead letters through the current mapping. Runs in the worker. Each letter is one
 * unit of work: its record re-read by key and mapped now, its context written (position-guarded:
 * a newer change the stream delivered meanwhile wins, "already up to date") and the letter
 * resolved, together; a record that fails again reopens the same letter with the new error.
 * `counters` count as letters commit, so an attempt that fails part way has counted what it did
 * (the next attempt replays only the letters still open).
 */
export async function replayDeadLetters(ids: string[], counters: ReplayCounters = { read: 0, written: 0, dead_lettered: 0, retried: 0, collisions: 0 }): Promise<ReplayCounters & { mapping_version: number }> {
  const open = (await store.getDeadLetters(ids)).filter((r) => r.status === "open");
  if (!open.length) return { ...counters, mapping_version: 0 };
  const sourceId = open[0]!.source_id;
  const { version, mappings } = await getMappings(sourceId);
  const mappers = new Map(mappings.map((m) => [`${m.source.table}\u0000${m.target.context_type}`, compileMapping(m, transformEnv())]));

  await withConnector(sourceId, async (connector) => {
    const source = requireCapability(connector, "rowsByKey", "read rows by key (replay)");
    const byEntity = new Map<string, store.DeadLetterRow[]>();
    for (const r of open) byEntity.set(r.entity, [...(byEntity.get(r.entity) ?? []), r]);
    for (const [entity, letters] of byEntity) {
      const rows = await source.rowsByKey(entity, letters.map((l) => l.key));
      for (const letter of letters) {
        const row = rows.get(JSON.stringify(letter.key));
        const mapper = mappers.get(`${entity}\u0000${letter.context_type}`);
        const mapped: Mapped = { writes: [], deadLetters: [] };
        let outcome: string | undefined;
        if (!row) outcome = "the row no longer exists at the source; nothing to write";
        else if (!mapper) outcome = `${entity} → ${letter.context_type} is no longer mapped; nothing to write`;
        else mapRecord([mapper], row, { entity, key: letter.key, key_columns: letter.key_columns, position: BigInt(letter.position), cursor: letter.cursor }, mapped);
        // Written where the failed record stood in the store's order: a newer write wins.
        const w = await commitBatch({
          sourceId,
          mappingVersion: version,
          order: { generation: letter.generation, snapshot: letter.snapshot },
          runId: letter.run_id,
          writes: mapped.writes,
          deadLetters: mapped.deadLetters,
          completion: { kind: "replay", dead_letter_id: letter.id, outcome },
        });
        counters.read++;
        counters.written += w.written;
        counters.collisions += w.collisions.length;
        counters.dead_lettered += w.dead_lettered.length;
      }
    }
  });
  return { ...counters, mapping_version: version };
}
