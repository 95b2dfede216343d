// Deleting a source takes its replication slot and publication off the source database, even while
// its stream runs (a slot left behind retains WAL until the disk fills).
process.env.ECM_SUPERVISOR_MS = "300";
process.env.ECM_STREAM_LEASE_SECONDS = "5";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { startWorker } from "../../worker/runtime.ts";
import { adminToken, api } from "../support/http.ts";
import { resetMetadata } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";

let worker: Awaited<ReturnType<typeof startWorker>>;
let editor: string;
beforeAll(async () => {
  await resetMetadata();
  editor = (await createToken({ name: "e", role: "editor" }, { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" })).token;
  worker = await startWorker();
});
afterAll(async () => {
  await worker.close();
});

describe("deleting a source", () => {
  it("stops its running stream and drops its slot and publication from the source", async () => {
    const src = await createSourceDatabase("ecm_src_delete", "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, g FROM generate_series(1, 100) g;");
    const id = (await api("POST", "/sources", { token: adminToken(), body: { name: "to-delete", config: src.config } })).body.id as string;
    const mapping = { mappings: [{ source: { table: "t" }, target: { context_type: "t" }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }] }] };
    expect((await api("PUT", `/sources/${id}/mappings`, { token: editor, body: mapping })).status).toBe(200);
    expect((await api("POST", `/sources/${id}/stream`, { token: editor, body: { action: "start" } })).status).toBe(202);
    const suffix = id.replaceAll("-", "");
    const capture = async () => ({
      slots: (await src.query("SELECT slot_name, active FROM pg_replication_slots WHERE slot_name = $1", [`ecm_slot_${suffix}`])).rows,
      publications: (await src.query("SELECT pubname FROM pg_publication WHERE pubname = $1", [`ecm_pub_${suffix}`])).rowCount,
    });
    // Streaming: the stream's session holds the slot.
    await waitFor("the stream to hold its slot", async () => (await capture()).slots[0]?.active === true, 60_000, 200);
    expect(await capture()).toEqual({ slots: [{ slot_name: `ecm_slot_${suffix}`, active: true }], publications: 1 });

    expect((await api("DELETE", `/sources/${id}`, { token: editor })).status).toBe(204);
    expect(await capture()).toEqual({ slots: [], publications: 0 });
    expect((await api("GET", `/sources/${id}`, { token: editor })).status).toBe(404);
    // Nothing brings the slot back afterwards (the stream was stopped before it was dropped).
    await new Promise((r) => setTimeout(r, 2000));
    expect((await capture()).slots).toEqual([]);
  }, 120_000);
});
