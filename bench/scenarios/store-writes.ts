// What a write costs the context store itself: the CPU its backend spends per row (read from
// /proc for the session's server process, so neither the client's work nor waiting counts),
// for the product's writes (server/store/contexts.ts, writeContexts: new rows by COPY, changes by
// the position-guarded upsert) beside the same rows written to a table shaped like the source
// (raw rows, bigint key) in the same run, batches interleaved so both see the same machine.
// Run it on this machine's embedded server: `npm run bench store-writes [-- --rows N]`.
import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import copyStreams from "pg-copy-streams";
import { benchPostgres, productInProcess } from "../env.ts";
import { machine, numberArg, type BenchResult } from "../harness.ts";

const BATCH = 1000;
const TICK_US = 1e6 / 100; // /proc/<pid>/stat counts in clock ticks (USER_HZ, 100 on Linux)

/** The server process's CPU (user + system) in µs. */
function backendCpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

/** A source row as the cdc bench makes them, in its `v`-th version. */
const sourceRow = (id: number, v: number) => ({
  id,
  a: (id % 1000) + v,
  b: id % 7,
  name: `name ${id}${".".repeat(v)}`,
  email: `user${id}@example.com`,
  doc: { k: id, tags: ["a", "b"] },
  at: "2026-12-08T00:00:00.123456+00:00",
  amount: (id / 100).toFixed(2),
});

export async function run(args: string[]): Promise<BenchResult> {
  const rows = numberArg(args, "--rows", 200_000);
  const server = await benchPostgres();
  await productInProcess(server, "ecm_bench_store_writes");
  const { writeContexts, InsertHint } = await import("../../server/store/contexts.ts");
  const { pgPool } = await import("../../server/db.ts");
  const sourceId = crypto.randomUUID();
  const pool = pgPool();
  const client = await pool.connect();
  const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
  await client.query("CREATE TABLE bench_raw (id bigint PRIMARY KEY, a int, b int, name text, email text, doc jsonb, at timestamptz, amount numeric(12,2))");

  const contextOf = (r: ReturnType<typeof sourceRow>, v: number) => ({
    context_type: "bench",
    context_id: String(r.id),
    entity: "public.cdc_items",
    position: BigInt(v + 1) * 10_000_000n + BigInt(r.id),
    cursor: `0/${(v + 1) * 10_000_000 + r.id}`,
    deleted: false,
    key: [String(r.id)],
    data: { a: r.a, b: r.b, name: r.name, email: r.email, doc: r.doc, at: r.at, amount: r.amount },
  });
  const rawLine = (r: ReturnType<typeof sourceRow>) => `${r.id}\t${r.a}\t${r.b}\t${r.name}\t${r.email}\t${JSON.stringify(r.doc)}\t${r.at}\t${r.amount}\n`;

  const spent = { ours_insert: 0, raw_insert: 0, ours_update: 0, raw_update: 0 };
  const timedBatch = async (key: keyof typeof spent, write: (c: pg.PoolClient) => Promise<unknown>) => {
    const before = backendCpuUs(pid);
    await client.query("BEGIN");
    await write(client);
    await client.query("COMMIT");
    spent[key] += backendCpuUs(pid) - before;
  };
  const copyRaw = (c: pg.PoolClient, lines: string) => pipeline(Readable.from([lines]), c.query(copyStreams.from("COPY bench_raw FROM STDIN")));

  for (let start = 1; start <= rows; start += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, rows - start + 1) }, (_, i) => sourceRow(start + i, 0));
    await timedBatch("ours_insert", (c) => writeContexts(c, sourceId, 1, batch.map((r) => contextOf(r, 0)), { generation: 0, snapshot: false, hint: new InsertHint() }));
    await timedBatch("raw_insert", (c) => copyRaw(c, batch.map(rawLine).join("")));
  }
  for (let start = 1; start <= rows; start += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, rows - start + 1) }, (_, i) => sourceRow(start + i, 1));
    await timedBatch("ours_update", (c) => writeContexts(c, sourceId, 1, batch.map((r) => contextOf(r, 1)), { generation: 0, snapshot: false }));
    await timedBatch("raw_update", (c) =>
      c.query(
        `UPDATE bench_raw t SET a = u.a, b = u.b, name = u.name, email = u.email, doc = u.doc, at = u.at, amount = u.amount
         FROM unnest($1::bigint[], $2::int[], $3::int[], $4::text[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::numeric[]) AS u(id, a, b, name, email, doc, at, amount) WHERE t.id = u.id`,
        [batch.map((r) => r.id), batch.map((r) => r.a), batch.map((r) => r.b), batch.map((r) => r.name), batch.map((r) => r.email), batch.map((r) => JSON.stringify(r.doc)), batch.map((r) => r.at), batch.map((r) => r.amount)],
      ),
    );
  }
  client.release();
  await pool.end();
  await server.stop();
  const perRow = (us: number) => us / rows;
  return {
    scenario: "store-writes",
    machine: machine(),
    started_at: new Date().toISOString(),
    figures: [
      {
        name: `new contexts (writeContexts: COPY), ${rows.toLocaleString("en-US")} rows in batches of ${BATCH}: the store backend's CPU per row`,
        value: perRow(spent.ours_insert),
        unit: "µs",
        baseline: { name: "the raw rows COPYed into a bigint-keyed table", value: perRow(spent.raw_insert) },
        higherIsBetter: false,
      },
      {
        name: `changed contexts (writeContexts: guarded upsert), the same rows: the store backend's CPU per row`,
        value: perRow(spent.ours_update),
        unit: "µs",
        baseline: { name: "the raw rows, every column, updated by one UPDATE … FROM unnest per batch", value: perRow(spent.raw_update) },
        higherIsBetter: false,
      },
    ],
  };
}
