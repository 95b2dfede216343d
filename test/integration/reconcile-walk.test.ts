// A reconcile's walk over an entity's contexts (server/store/contexts.ts, keyedContexts) on the
// real store: every context it must check, once, in (context_type, context_id) order across the
// entity's context types, chunk by chunk from where the last one ended, and none of another
// entity's or source's contexts that share a type, nor tombstones, contexts at or above the
// pass's floor or contexts without their row's key.
import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { entityContextTypes, InsertHint, keyedContexts, writeContexts, type ContextWrite } from "../../server/store/contexts.ts";
import { pgPool } from "../../server/db.ts";

const source = crypto.randomUUID();
const other = crypto.randomUUID();
const entity = "public.walked";
const floor = { generation: 0, position: 100n };
const types = ["walk-a", "walk-b", "walk-c"];

const context = (context_type: string, id: number, over: Partial<ContextWrite> = {}): ContextWrite => ({
  context_type,
  context_id: `id-${String(id).padStart(3, "0")}`,
  data: { id },
  entity,
  position: 50n,
  cursor: null,
  deleted: false,
  key: [String(id)],
  ...over,
});

async function write(sourceId: string, rows: ContextWrite[]) {
  const client = await pgPool().connect();
  try {
    await client.query("BEGIN");
    await writeContexts(client, sourceId, 1, rows, { generation: 0, snapshot: true, pass: 1n, hint: new InsertHint() });
    await client.query("COMMIT");
  } finally {
    client.release();
  }
}

/** Every chunk of the walk from `after`, as the reconcile takes them. */
async function walk(after: string[] | null, limit: number) {
  const listed = await entityContextTypes(source, entity, after?.[0] ?? null);
  const seen: string[] = [];
  for (;;) {
    const chunk = await keyedContexts(source, entity, floor, after, limit, listed);
    if (!chunk.length) return { listed, seen };
    expect(chunk.length).toBeLessThanOrEqual(limit);
    seen.push(...chunk.map((c) => `${c.context_type}/${c.context_id}`));
    const last = chunk[chunk.length - 1]!;
    after = [last.context_type, last.context_id];
  }
}

beforeAll(async () => {
  // Two types of this entity, interleaved with another entity's and another source's contexts of the same types.
  await write(source, [1, 2, 3, 4, 5].map((i) => context("walk-a", i)));
  await write(source, [1, 2, 3].map((i) => context("walk-b", i * 2)));
  await write(source, [10, 11].map((i) => context("walk-a", i, { entity: "public.neighbour" })));
  await write(other, [12, 13].map((i) => context("walk-b", i)));
  // Not to be checked: a tombstone, a context above the floor, one without its row's key.
  await write(source, [context("walk-c", 1, { deleted: true, data: null }), context("walk-c", 2, { position: 150n }), context("walk-c", 3, { key: null })]);
});

describe("a reconcile's walk over an entity's contexts", () => {
  const expected = ["walk-a/id-001", "walk-a/id-002", "walk-a/id-003", "walk-a/id-004", "walk-a/id-005", "walk-b/id-002", "walk-b/id-004", "walk-b/id-006"];

  it("lists the entity's context types in the store's order, and nobody else's", async () => {
    expect(await entityContextTypes(source, entity, null)).toEqual(types);
    expect(await entityContextTypes(source, entity, "walk-b")).toEqual(["walk-b", "walk-c"]);
  });

  it("checks each context below the floor with its key once, in id order, in chunks that cross types", async () => {
    for (const limit of [1, 2, 3, 100]) expect((await walk(null, limit)).seen).toEqual(expected);
  });

  it("resumes after the last context of a committed chunk, mid-type and at a type's end", async () => {
    expect((await walk(["walk-a", "id-003"], 2)).seen).toEqual(expected.slice(3));
    expect((await walk(["walk-a", "id-005"], 2)).seen).toEqual(expected.slice(5));
  });

  it("resumes after a type whose contexts are all gone since (hard deletes) with the types after it", async () => {
    expect((await walk(["walk-aa", "id-999"], 2)).seen).toEqual(expected.slice(5));
  });
});
