// A table keyed by a secret (an API key as primary key, a context_id built from it): what the
// product reports of its records (dead letters, run errors, collision messages) shows the key
// redacted, while a replay still re-reads the row by its real key.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { startWorker } from "../../worker/runtime.ts";
import { adminToken, api } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";

const SECRET = "sk_live_4f9a0c1e7b";
const mapping = (prefs: "json_parse" | "default") => ({
  mappings: [
    {
      source: { table: "api_keys" },
      target: { context_type: "secret-key" },
      fields: [
        { source: "api_key", target: "context_id" },
        { source: "prefs", target: "data.prefs", transform: prefs === "json_parse" ? "json_parse" : ["json_parse", { name: "default", value: {} }] },
      ],
    },
    // Another table whose ids collide with the first's: the collision message names the id.
    { source: { table: "api_keys_copy" }, target: { context_type: "secret-key" }, fields: [{ source: "api_key", target: "context_id" }] },
  ],
});

let source: Awaited<ReturnType<typeof createSourceDatabase>>;
let sourceId: string;
let editor: string;
let worker: Awaited<ReturnType<typeof startWorker>>;

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters"));
  source = await createSourceDatabase(
    "ecm_src_secret_keys",
    `CREATE TABLE api_keys (api_key text PRIMARY KEY, prefs text);
     INSERT INTO api_keys VALUES ('${SECRET}', '{broken'), ('sk_fine', '{}');
     CREATE TABLE api_keys_copy (api_key text PRIMARY KEY);
     INSERT INTO api_keys_copy VALUES ('sk_fine');`,
  );
  editor = (await createToken({ name: "e", role: "editor" }, { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" })).token;
  sourceId = (await api("POST", "/sources", { token: adminToken(), body: { name: "secret-keys", config: source.config } })).body.id;
  worker = await startWorker();
});
afterAll(async () => {
  await worker?.close();
});

async function finished(runId: string) {
  for (let i = 0; i < 200; i++) {
    const r = await api("GET", `/runs/${runId}`, { token: editor });
    if (r.body.status !== "queued" && r.body.status !== "running") return r.body;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error("run did not finish");
}

describe("a record keyed by a secret", () => {
  it("is reported with its key and context id redacted: dead letters, run errors, collision messages", async () => {
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping("json_parse") })).status).toBe(200);
    const run = await finished((await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: {} })).body.run_id);
    expect(run.status).toBe("succeeded");
    const letters = await api("GET", `/dead-letters?source_id=${sourceId}`, { token: editor });
    expect(JSON.stringify(letters.body)).not.toContain("sk_");
    expect(JSON.stringify(run)).not.toContain("sk_");
    // The two tables are snapshotted at once: whichever writes sk_fine second collides.
    type Letter = { error: { code?: string; field?: string } };
    const all = letters.body.dead_letters as Letter[];
    expect(all.find((d) => d.error.field === "data.prefs")).toMatchObject({ entity: "api_keys", key: ["[redacted]"], key_columns: ["api_key"], payload: { api_key: "[redacted]" } });
    expect(all.find((d) => d.error.code === "CONTEXT_ID_COLLISION")).toMatchObject({ key: ["[redacted]"], key_columns: ["api_key"], error: { message: expect.stringContaining("secret-key/[redacted]") } });
  });

  it("is replayed by its real key", async () => {
    await source.query(`UPDATE api_keys SET prefs = NULL WHERE api_key = $1`, [SECRET]);
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping("default") })).status).toBe(200);
    const letters = await api("GET", `/dead-letters?source_id=${sourceId}&entity=api_keys`, { token: editor });
    const broken = letters.body.dead_letters.find((d: { error: { field?: string } }) => d.error.field === "data.prefs");
    const replay = await api("POST", "/dead-letters/replay", { token: editor, body: { ids: [broken.id] } });
    expect((await finished(replay.body.run_id)).counters).toMatchObject({ written: 1, dead_lettered: 0 });
    const stored = await withDb((c) => c.query("SELECT context_id FROM contexts WHERE context_type = 'secret-key' AND context_id = $1 AND NOT deleted", [SECRET]));
    expect(stored.rowCount).toBe(1);
  });
});
