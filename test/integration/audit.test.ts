// The audit trail (docs/audit.md) against the real store, worker and sign-in library: each kind of
// change made through the API (or the console's tRPC procedures) leaves exactly one entry with
// who, from where and what, none carries a secret, a change that rolls back leaves none (and an
// entry that cannot be written rolls its change back), entries cannot be changed, and the
// retention job removes only what is past it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth } from "../../server/auth/auth.ts";
import { principalFromHeaders } from "../../server/auth/principal.ts";
import { createCaller } from "../../server/api/root.ts";
import { createContextInner } from "../../server/api/trpc.ts";
import { purgeExpiredAudit } from "../../server/audit/service.ts";
import { startWorker } from "../../worker/runtime.ts";
import { adminToken, api, createEditorToken } from "../support/http.ts";
import { resetMetadata, withDb } from "../support/db.ts";
import { createSourceDatabase } from "../support/source-db.ts";
import { waitFor } from "../support/wait.ts";

const ORIGIN = "http://localhost:3999";
const CLIENT = "198.51.100.23";
let src: Awaited<ReturnType<typeof createSourceDatabase>>;
let editor: string;
let worker: Awaited<ReturnType<typeof startWorker>>;
const secrets: string[] = [];

type Entry = { id: string; action: string; actor_kind: string; actor_name: string; owner_name: string | null; client_address: string | null; source_id: string | null; target_kind: string; target_id: string | null; details: Record<string, unknown> };

const lastId = () => withDb(async (c) => (await c.query("SELECT coalesce(max(id), 0)::text AS id FROM audit_entries")).rows[0].id as string);
const entriesAfter = (id: string) => withDb(async (c) => (await c.query<Entry>("SELECT id::text, action, actor_kind, actor_name, owner_name, client_address, source_id::text, target_kind, target_id, details FROM audit_entries WHERE id > $1 ORDER BY id", [id])).rows);

/** Makes the change and returns the one entry it left (and fails when it left none or several). */
async function onlyEntry(change: () => Promise<unknown>, action: string): Promise<Entry> {
  const before = await lastId();
  await change();
  const made = await entriesAfter(before);
  expect(made.map((e) => e.action), `entries of ${action}`).toEqual([action]);
  return made[0]!;
}

const runDone = (id: string) => waitFor("the run", async () => ((r) => (["succeeded", "failed", "cancelled"].includes(r.status) ? r : undefined))((await api("GET", `/runs/${id}`, { token: editor })).body), 60_000, 100);

function signIn(email: string, password: string) {
  return auth().handler(new Request(`${ORIGIN}/api/auth/sign-in/email`, { method: "POST", headers: { "content-type": "application/json", origin: ORIGIN, "x-forwarded-for": CLIENT }, body: JSON.stringify({ email, password }) }));
}

beforeAll(async () => {
  await resetMetadata();
  await withDb((c) => c.query("TRUNCATE contexts, mapping_versions, snapshot_checkpoints, runs, dead_letters, alerts"));
  editor = await createEditorToken();
  src = await createSourceDatabase(
    "ecm_audit",
    `CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, prefs text);
     INSERT INTO customers SELECT g, 'c' || g || '@example.com', '{}' FROM generate_series(1, 10) g;
     UPDATE customers SET prefs = 'not json' WHERE id IN (3, 4);`,
  );
  worker = await startWorker();
});

afterAll(async () => {
  await worker?.close();
});

describe("the audit trail", () => {
  let sourceId: string;
  const password = decodeURIComponent(new URL(process.env.TEST_SERVER_URL!).password);

  it("records each kind of change once, with who, from where and what, and never a secret", async () => {
    const typed = { ...src.config, authentication: { type: "credentials", username: src.config.authentication.username, password } };
    secrets.push(password);
    const created = await onlyEntry(async () => {
      const r = await api("POST", "/sources", { token: editor, body: { name: "audited", config: typed }, headers: { "x-forwarded-for": CLIENT } });
      expect(r.status, r.text).toBe(201);
      sourceId = r.body.id;
    }, "source.create");
    expect(created).toMatchObject({ actor_kind: "token", actor_name: "e", owner_name: "ECM_API_TOKEN", client_address: CLIENT, source_id: sourceId, target_kind: "source", target_id: sourceId });
    expect(JSON.stringify(created.details)).toMatch(/secret:\/\//); // the reference, never the password

    // The password typed again (same value) and a rename: the change names what moved.
    const updated = await onlyEntry(() => api("PATCH", `/sources/${sourceId}`, { token: editor, body: { name: "audited-renamed", config: typed } }), "source.update");
    expect(updated.details.changes).toEqual(expect.arrayContaining([{ path: "name", before: "audited", after: "audited-renamed" }]));

    const mapping = {
      mappings: [{ source: { table: "customers" }, target: { context_type: "customer" }, fields: [{ source: "id", target: "context_id" }, { source: "email", target: "data.email" }, { source: "prefs", target: "data.prefs", transform: "json_parse" }] }],
    };
    const saved = await onlyEntry(() => api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: mapping }), "mapping.save");
    expect(saved).toMatchObject({ target_kind: "mapping_version", target_id: "1", details: { version: 1, previous_version: null } });
    const second = { mappings: [{ ...mapping.mappings[0], fields: [...mapping.mappings[0]!.fields, { source: "id", target: "data.id" }] }] };
    const resaved = await onlyEntry(() => api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: second }), "mapping.save");
    expect(resaved.details).toMatchObject({ version: 2, previous_version: 1, changes: [{ path: "mappings[0].fields", before: expect.any(Array), after: expect.any(Array) }] });

    let runId = "";
    const snap = await onlyEntry(async () => void (runId = (await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: { entities: ["customers"] } })).body.run_id), "snapshot.request");
    expect(snap).toMatchObject({ target_kind: "run", target_id: runId, details: { entities: ["customers"], full: false } });
    expect((await runDone(runId)).status).toBe("succeeded"); // the worker's own writes record nothing
    expect(await entriesAfter(snap.id)).toEqual([]);

    const letters = (await api("GET", `/dead-letters?source_id=${sourceId}&status=open`, { token: editor })).body.dead_letters as { id: string }[];
    expect(letters).toHaveLength(2);
    await onlyEntry(() => api("POST", `/dead-letters/${letters[0]!.id}/discard`, { token: editor }), "dead_letter.discard");
    expect(await entriesAfter(await lastId())).toEqual([]);
    const discardedAgain = await lastId();
    await api("POST", `/dead-letters/${letters[0]!.id}/discard`, { token: editor }); // nothing changes: nothing recorded
    expect(await entriesAfter(discardedAgain)).toEqual([]);
    const replay = await onlyEntry(async () => void (runId = (await api("POST", "/dead-letters/replay", { token: editor, body: { ids: [letters[1]!.id] } })).body.run_id), "dead_letter.replay");
    expect(replay.details).toMatchObject({ count: 1, ids: [letters[1]!.id] });
    await runDone(runId);

    await onlyEntry(() => api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "start" } }), "stream.start");
    await waitFor("streaming", async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body.state === "streaming" || undefined, 60_000, 200);
    await onlyEntry(() => api("POST", `/sources/${sourceId}/stream/entities/customers`, { token: editor, body: { action: "pause" } }), "entity.pause");
    await onlyEntry(() => api("POST", `/sources/${sourceId}/stream/entities/customers`, { token: editor, body: { action: "resume" } }), "entity.resume");
    await onlyEntry(() => api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }), "stream.stop");
    await waitFor("stopped", async () => (await api("GET", `/sources/${sourceId}/status`, { token: editor })).body.state !== "streaming" || undefined, 60_000, 200);
    const cursor = (await api("GET", `/sources/${sourceId}/cursor`, { token: editor })).body.cursor as string;
    const moved = await onlyEntry(async () => expect((await api("PUT", `/sources/${sourceId}/cursor`, { token: editor, body: { cursor } })).status).toBe(200), "stream.cursor");
    expect(moved.details).toEqual({ before: cursor, after: cursor });
    const stoppedAgain = await lastId();
    await api("POST", `/sources/${sourceId}/stream`, { token: editor, body: { action: "stop" } }); // stopped already
    expect(await entriesAfter(stoppedAgain)).toEqual([]);

    // Paused twice, changed once; resumed with no stream running: the entity is re-snapshotted now,
    // and the one entry says so.
    await onlyEntry(() => api("POST", `/sources/${sourceId}/stream/entities/customers`, { token: editor, body: { action: "pause" } }), "entity.pause");
    const pausedAgain = await lastId();
    await api("POST", `/sources/${sourceId}/stream/entities/customers`, { token: editor, body: { action: "pause" } });
    expect(await entriesAfter(pausedAgain)).toEqual([]);
    let resumedRun = "";
    const resumed = await onlyEntry(async () => void (resumedRun = (await api("POST", `/sources/${sourceId}/stream/entities/customers`, { token: editor, body: { action: "resume" } })).body.run_id), "entity.resume");
    expect(resumed.details).toEqual({ resnapshot: true });
    expect((await runDone(resumedRun)).status).toBe("succeeded");

    // A save that re-maps: the version, then what the re-map did to the store.
    const before = await lastId();
    expect((await api("PUT", `/sources/${sourceId}/mappings`, { token: editor, body: { ...second, remap: true } })).status).toBe(200);
    const remapped = await entriesAfter(before);
    expect(remapped.map((e) => e.action)).toEqual(["mapping.save", "mapping.remap"]);
    expect(remapped[1]!.details).toMatchObject({ version: 3, removed: [], tombstoned: 0 });

    // The demo writer (a console procedure): on a source marked as the demo.
    await withDb((c) => c.query("UPDATE sources SET is_demo = true WHERE id = $1", [sourceId]));
    const asAdmin = createCaller(createContextInner({ principal: { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin", owner: { kind: "env" } } }));
    await onlyEntry(() => asAdmin.sources.setDemoWriter({ id: sourceId, enabled: false }), "source.demo_writer");

    // An alert raised by the product, resolved by a user (once: resolving it again changes nothing).
    const alert = (await withDb((c) => c.query("INSERT INTO alerts (id, source_id, category, message, status, created_at) VALUES (gen_random_uuid(), $1, 'CONFIGURATION', 'test alert', 'open', now()) RETURNING id::text", [sourceId]))).rows[0].id as string;
    await onlyEntry(() => api("POST", `/alerts/${alert}/resolve`, { token: editor }), "alert.resolve");
    const resolvedAgain = await lastId();
    await api("POST", `/alerts/${alert}/resolve`, { token: editor });
    expect(await entriesAfter(resolvedAgain)).toEqual([]);

    // A schedule, on a source that syncs by incremental runs.
    const scheduledConfig = { ...typed, options: { change_tracking: "incremental", schedule: { every_seconds: 3600 } } };
    const made = await api("POST", "/sources", { token: editor, body: { name: "audited-scheduled", config: scheduledConfig } });
    expect(made.status, made.text).toBe(201);
    const scheduled = made.body.id as string;
    await onlyEntry(async () => expect((await api("POST", `/sources/${scheduled}/schedule`, { token: editor, body: { action: "pause" } })).text).toMatch(/"paused":true/), "schedule.pause");
    await onlyEntry(() => api("POST", `/sources/${scheduled}/schedule`, { token: editor, body: { action: "resume" } }), "schedule.resume");
    const removed = await onlyEntry(() => api("DELETE", `/sources/${scheduled}`, { token: editor }), "source.delete");
    expect(removed.details).toMatchObject({ name: "audited-scheduled" });

    // Tokens and users (admin): the token's value and the users' passwords never appear.
    let tokenId = "";
    const minted = await onlyEntry(async () => {
      const r = await api("POST", "/tokens", { token: adminToken(), body: { name: "audited-token", role: "viewer" } });
      secrets.push(r.body.token);
      tokenId = r.body.api_token.id;
    }, "token.create");
    expect(minted.details).toMatchObject({ name: "audited-token", role: "viewer" });
    await onlyEntry(() => api("POST", `/tokens/${tokenId}/revoke`, { token: adminToken() }), "token.revoke");
    const userPassword = "audited-user-password-1";
    secrets.push(userPassword);
    let userId = "";
    await onlyEntry(async () => void (userId = (await api("POST", "/users", { token: adminToken(), body: { email: "audited@ecm.local", name: "Audited", password: userPassword, role: "editor" } })).body.id), "user.create");
    // Another admin, so roles may change (the last admin's may not).
    expect((await api("POST", "/users", { token: adminToken(), body: { email: "keeper@ecm.local", name: "Keeper", password: "keeper-password-1", role: "admin" } })).status).toBe(201);
    secrets.push("keeper-password-1");
    const role = await onlyEntry(() => asAdmin.users.setRole({ id: userId, role: "viewer" }), "user.role");
    expect(role.details).toEqual({ before: "editor", after: "viewer" });
    const sameRole = await lastId();
    await asAdmin.users.setRole({ id: userId, role: "viewer" }); // the same role: nothing changes
    expect(await entriesAfter(sameRole)).toEqual([]);
    await onlyEntry(() => asAdmin.users.setDisabled({ id: userId, disabled: true }), "user.disable");
    await onlyEntry(() => asAdmin.users.setDisabled({ id: userId, disabled: false }), "user.enable");

    // The user signs in to the console and changes their password: recorded under their name.
    const session = await signIn("audited@ecm.local", userPassword);
    expect(session.status).toBe(200);
    const headers = new Headers({ cookie: session.headers.getSetCookie().map((c) => c.split(";")[0]).join("; "), "x-forwarded-for": CLIENT });
    const asUser = createCaller(createContextInner({ principal: await principalFromHeaders(headers), headers }));
    const newPassword = "audited-user-password-2";
    secrets.push(newPassword);
    const changed = await onlyEntry(() => asUser.me.changePassword({ current_password: userPassword, new_password: newPassword }), "user.password");
    expect(changed).toMatchObject({ actor_kind: "user", actor_name: "audited@ecm.local", client_address: CLIENT, target_id: userId });

    // Every entry, through the API: none holds a secret.
    const all = JSON.stringify((await api("GET", "/audit?limit=200", { token: adminToken() })).body);
    for (const secret of secrets) expect(all).not.toContain(secret);
  });

  it("lists entries for admins only, newest first, filtered and cursor-paged", async () => {
    expect((await api("GET", "/audit", { token: editor })).status).toBe(403);
    const page = await api("GET", `/audit?source_id=${sourceId}&limit=3`, { token: adminToken() });
    expect(page.status).toBe(200);
    expect(page.body.entries).toHaveLength(3);
    expect(page.body.entries.every((e: { source_id: string }) => e.source_id === sourceId)).toBe(true);
    const next = await api("GET", `/audit?source_id=${sourceId}&limit=3&cursor=${page.body.next_cursor}`, { token: adminToken() });
    expect(BigInt(next.body.entries[0].id)).toBeLessThan(BigInt(page.body.entries[2].id));
    const saves = (await api("GET", `/audit?action=mapping.save&actor=ECM_API_TOKEN&source_id=${sourceId}`, { token: adminToken() })).body.entries;
    expect(saves.map((e: { details: { version: number } }) => e.details.version)).toEqual([3, 2, 1]); // the editor's token is ECM_API_TOKEN's
    expect((await api("GET", "/audit?action=nothing.like.this", { token: adminToken() })).status).toBe(400);
  });

  it("leaves no entry for a change that fails, and undoes a change whose entry cannot be written", async () => {
    const before = await lastId();
    const clash = await api("POST", "/sources", { token: editor, body: { name: "audited-renamed", config: src.config } });
    expect(clash.status).toBe(409);
    // Changes recorded once they succeed (a queued run, a stream start) are not when they fail.
    expect((await api("POST", `/sources/${sourceId}/snapshot`, { token: editor, body: { entities: ["not_mapped"] } })).status).toBe(400);
    expect((await api("POST", "/dead-letters/replay", { token: editor, body: { ids: ["00000000-0000-4000-8000-000000000000"] } })).status).toBe(400);
    expect(await entriesAfter(before)).toEqual([]);
    // The store refuses this kind of entry for a moment: the rename it records must not happen.
    await withDb((c) => c.query("ALTER TABLE audit_entries ADD CONSTRAINT audit_test_refuse CHECK (action <> 'source.update') NOT VALID"));
    try {
      const refused = await api("PATCH", `/sources/${sourceId}`, { token: editor, body: { name: "never-renamed" } });
      expect(refused.status).toBe(500);
    } finally {
      await withDb((c) => c.query("ALTER TABLE audit_entries DROP CONSTRAINT audit_test_refuse"));
    }
    expect((await api("GET", `/sources/${sourceId}`, { token: editor })).body.name).toBe("audited-renamed");
    expect(await entriesAfter(before)).toEqual([]);
  });

  it("cannot be changed: no route writes an entry, and the store refuses updates and deletes", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) expect((await api(method, "/audit", { token: adminToken(), body: {} })).status, method).toBeGreaterThanOrEqual(404);
    const id = await lastId();
    await expect(withDb((c) => c.query("UPDATE audit_entries SET actor_name = 'someone else' WHERE id = $1", [id]))).rejects.toThrow(/append-only/);
    await expect(withDb((c) => c.query("DELETE FROM audit_entries WHERE id = $1", [id]))).rejects.toThrow(/append-only/);
    await expect(withDb((c) => c.query("TRUNCATE audit_entries"))).rejects.toThrow(/append-only/);
  });

  it("keeps entries for the retention and no longer: the job removes only what is past it", async () => {
    await withDb((c) =>
      c.query(`INSERT INTO audit_entries (at, actor_kind, actor_id, actor_name, action, target_kind)
        SELECT now() - interval '401 days', 'user', 'old', 'old', 'source.create', 'source' FROM generate_series(1, 5)
        UNION ALL SELECT now() - interval '399 days', 'user', 'kept', 'kept', 'source.create', 'source'`),
    );
    expect(await purgeExpiredAudit(400, 2)).toBe(5); // in chunks of 2: three transactions
    const left = await withDb(async (c) => (await c.query("SELECT actor_id FROM audit_entries WHERE actor_id IN ('old', 'kept')")).rows.map((r) => r.actor_id));
    expect(left).toEqual(["kept"]);
    expect(await purgeExpiredAudit(400)).toBe(0);
  });
});
