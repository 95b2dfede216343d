// The spec's error handling for DATA errors: a snapshot over rows that make json_parse fail and
// rows with a NULL context_id completes; exactly those rows become dead letters with their detail;
// fix the rows and the mapping, replay: they arrive, the dead letters are marked replayed, and a
// second replay changes nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { pgPool } from "../../server/db.ts";
import { startWorker } from "../../worker/runtime.ts";
import { adminToken, api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";

const mapping = (version: "broken" | "fixed") => ({
  mappings: [
    {
      source: { table: "profiles" },
      target: { context_type: "profile" },
      fields: [
        { source: "ext_id", target: "context_id" },
        { source: "prefs", target: "data.prefs", transform: version === "broken" ? "json_parse" : ["json_parse", { name: "default", value: {} }] },
        { source: "id", target: "data.id" },
      ],
    },
  ],
});

let source: Awaited<ReturnType<typeof createSourceDatabase>>;
let sourceId: string;
let editor: string;
let viewer: string;
let worker: Awaited<ReturnType<typeof startWorker>>;

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters"));
  source = await createSourceDatabase(
    "ecm_src_dead_letters",
    `CREATE TABLE profiles (id int PRIMARY KEY, ext_id text, prefs text, password_hash text);
     INSERT INTO profiles SELECT i, 'p' || i, '{"n": ' || i || '}', 'hash-' || i FROM generate_series(1, 100) i;
     UPDATE profiles SET prefs = '{"n": broken' WHERE id IN (7, 14);
     UPDATE profiles SET ext_id = NULL WHERE id IN (50, 60);`,
  );
  const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
  editor = (await createToken({ name: "e", role: "editor" }, system)).token;
  viewer = (await createToken({ name: "v", role: "viewer" }, system)).token;
  sourceId = (await api("POST", "/sources", { token: adminToken() /* an env:// secret is pointed at a host by an admin */, body: { name: "dl", config: source.config } })).body.id;
  worker = await startWorker();
});
afterAll(async () => {
  await worker?.close();
});

async function finished(runId: string) {
  for (let i = 0; i < 200; i++) {
    const r = await api("GET", `/runs/${runId}`, { token: viewer });
    if (r.body.status !== "queued" && r.body.status !== "running") return r.body;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error("run did not finish");
}

const storedProfiles = async () => (await pgPool().query("SELECT context_id, data, mapping_version, updated_at FROM contexts WHERE context_type = 'profile' ORDER BY context_id")).rows;

describe("dead letters", () => {
  it("a snapshot completes; exactly the bad rows are dead letters with category and detail", async () => {
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping("broken") })).status).toBe(200);
    const run = await finished((await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id);
    expect(run).toMatchObject({ status: "succeeded", counters: { read: 100, written: 96, dead_lettered: 4 } });
    expect((await storedProfiles()).length).toBe(96);

    const list = await api("GET", `/dead-letters?source_id=${sourceId}&status=open`, { token: viewer });
    const byKey = Object.fromEntries(list.body.dead_letters.map((d: { key: string[] }) => [d.key[0], d]));
    expect(Object.keys(byKey).sort()).toEqual(["14", "50", "60", "7"]);
    expect(byKey["7"]).toMatchObject({
      source_id: sourceId,
      run_id: run.id,
      entity: "profiles",
      context_type: "profile",
      category: "DATA",
      status: "open",
      attempts: 1,
      mapping_version: 1,
      error: { field: "data.prefs", transform: "json_parse", message: expect.stringMatching(/invalid JSON/) },
      payload: { id: 7, ext_id: "p7", prefs: '{"n": broken', password_hash: "[redacted]" },
    });
    expect(byKey["50"].error).toMatchObject({ field: "context_id", message: expect.stringMatching(/context_id is NULL/) });
    const one = await api("GET", `/dead-letters/${byKey["7"].id}`, { token: viewer });
    expect(one.body.id).toBe(byKey["7"].id);
  });

  it("filters by entity, category and creation time, and pages by cursor", async () => {
    const get = async (q: string) => (await api("GET", `/dead-letters?source_id=${sourceId}&${q}`, { token: viewer })).body;
    expect((await get("entity=profiles&category=DATA")).dead_letters).toHaveLength(4);
    expect((await get("entity=nothing")).dead_letters).toHaveLength(0);
    expect((await get("category=FATAL")).dead_letters).toHaveLength(0);
    const all = (await get("")).dead_letters as { created_at: string; id: string }[];
    const newest = all[0]!.created_at;
    expect((await get(`since=${encodeURIComponent(newest)}`)).dead_letters.map((d: { id: string }) => d.id)).toContain(all[0]!.id);
    expect((await get(`until=${encodeURIComponent(all[all.length - 1]!.created_at)}`)).dead_letters).toHaveLength(0);
    expect((await get(`since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).dead_letters).toHaveLength(0);
    const first = await get("limit=3");
    expect(first.dead_letters).toHaveLength(3);
    const second = await get(`limit=3&cursor=${first.next_cursor}`);
    expect(second.dead_letters).toHaveLength(1);
    expect(new Set([...first.dead_letters, ...second.dead_letters].map((d: { id: string }) => d.id)).size).toBe(4);
    const bad = await api("GET", `/dead-letters?since=yesterday`, { token: viewer });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("since");
  });

  it("re-running the snapshot counts attempts instead of duplicating dead letters", async () => {
    const run = await finished((await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id);
    expect(run.counters.dead_lettered).toBe(4);
    const list = await api("GET", `/dead-letters?source_id=${sourceId}`, { token: viewer });
    expect(list.body.dead_letters).toHaveLength(4);
    expect(list.body.dead_letters.every((d: { attempts: number }) => d.attempts === 2)).toBe(true);
  });

  it("only editors replay or discard", async () => {
    expect((await api("POST", "/dead-letters/replay", { token: viewer, body: { filter: { source_id: sourceId } } })).status).toBe(403);
  });

  it("after fixing the rows and the mapping, a replay delivers them and marks them replayed; a second replay changes nothing", async () => {
    await source.query(`UPDATE profiles SET prefs = '{"n": "fixed"}' WHERE id = 7`);
    await source.query(`UPDATE profiles SET ext_id = 'p' || id WHERE id IN (50, 60)`);
    await source.query(`UPDATE profiles SET prefs = NULL WHERE id = 14`); // the fixed mapping gives {} for NULL
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping("fixed") })).body.version).toBe(2);

    const replay = await api("POST", "/dead-letters/replay", { token: editor, body: { filter: { source_id: sourceId, status: "open" } } });
    expect(replay.status).toBe(202);
    const run = await finished(replay.body.run_id);
    expect(run).toMatchObject({ kind: "replay", status: "succeeded", mapping_version: 2, counters: { read: 4, written: 4, dead_lettered: 0 } });

    const profiles = await storedProfiles();
    expect(profiles).toHaveLength(100);
    const byId = Object.fromEntries(profiles.map((p) => [p.context_id, p]));
    expect(byId.p7).toMatchObject({ data: { prefs: { n: "fixed" }, id: 7 }, mapping_version: 2 });
    expect(byId.p14).toMatchObject({ data: { prefs: {}, id: 14 } });
    expect(byId.p50.data).toEqual({ prefs: { n: 50 }, id: 50 });

    const after = await api("GET", `/dead-letters?source_id=${sourceId}`, { token: viewer });
    for (const d of after.body.dead_letters) expect(d).toMatchObject({ status: "replayed", outcome: expect.stringMatching(/^written as profile\//), resolved_at: expect.any(String) });

    const ids = after.body.dead_letters.map((d: { id: string }) => d.id);
    const again = await finished((await api("POST", "/dead-letters/replay", { token: editor, body: { ids } })).body.run_id);
    expect(again).toMatchObject({ status: "succeeded", counters: { read: 0, written: 0 } });
    expect(await storedProfiles()).toEqual(profiles);
  });

  it("a record that still fails stays open with one more attempt; discarding closes it", async () => {
    await source.query(`INSERT INTO profiles VALUES (101, 'p101', 'not json', 'h')`);
    await finished((await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id);
    const open = (await api("GET", `/dead-letters?source_id=${sourceId}&status=open`, { token: viewer })).body.dead_letters;
    expect(open.map((d: { key: string[] }) => d.key[0])).toEqual(["101"]);
    const run = await finished((await api("POST", "/dead-letters/replay", { token: editor, body: { ids: [open[0].id] } })).body.run_id);
    expect(run.counters).toMatchObject({ read: 1, written: 0, dead_lettered: 1 });
    const still = (await api("GET", `/dead-letters/${open[0].id}`, { token: viewer })).body;
    expect(still).toMatchObject({ status: "open", attempts: 2, outcome: "failed again", mapping_version: 2 });
    const discarded = await api("POST", `/dead-letters/${open[0].id}/discard`, { token: editor });
    expect(discarded.body).toMatchObject({ status: "discarded" });
  });
});
