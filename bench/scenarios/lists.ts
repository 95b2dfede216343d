// List pages at scale: 1M contexts and 100k dead letters, read page by page through the public
// API handler (token auth, zod, JSON) the console's tRPC calls share. Each figure is beside the
// bare pg SELECT of the same page in the same run. First pages and pages deep in the list (by
// cursor) must cost the same: keyset pagination on indexes, never OFFSET or a sort of everything.
// The query plans of the store's own SQL (captured from the pool, EXPLAIN ANALYZE) are printed.
import pg from "pg";
import { encodeCursor } from "../../server/pagination.ts";
import { benchPostgres, productInProcess } from "../env.ts";
import { machine, numberArg, timed, type BenchResult, type Figure } from "../harness.ts";

export async function run(args: string[]): Promise<BenchResult> {
  const contexts = numberArg(args, "--contexts", 1_000_000);
  const deadLetters = numberArg(args, "--dead-letters", 100_000);
  const calls = numberArg(args, "--calls", 200);
  const server = await benchPostgres();
  const token = await productInProcess(server, "ecm_bench_lists");

  const { createSource } = await import("../../server/sources/service.ts");
  const { handleApiRequest } = await import("../../server/http/handler.ts");
  const { pgPool } = await import("../../server/db.ts");
  const source = await createSource({
    name: "big",
    config: {
      connector_type: "postgresql",
      connection: { host: "db.example.com", port: 5432, database: "big", ssl_mode: "require" },
      authentication: { type: "credentials", username: "reader", password_secret: "vault://db/pg#password" },
      options: { batch_size: 1000, change_tracking: "cdc" },
    },
  });

  const db = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
  console.error(`[lists] seeding ${contexts.toLocaleString("en-US")} contexts and ${deadLetters.toLocaleString("en-US")} dead letters`);
  const seed = await timed(async () => {
    // Two context types; ids as text like the mapper writes them; 1 % tombstones.
    await db.query(
      `INSERT INTO contexts (context_type, context_id, data, source_id, entity, position, cursor, deleted, mapping_version)
       SELECT CASE WHEN i % 4 = 0 THEN 'order' ELSE 'customer' END, i::text,
              jsonb_build_object('email', 'c' || i || '@example.com', 'name', 'Customer ' || i, 'plan', CASE WHEN i % 3 = 0 THEN 'pro' ELSE 'free' END),
              $1::uuid, CASE WHEN i % 4 = 0 THEN 'orders' ELSE 'customers' END, i::numeric, NULL, i % 100 = 0, 1
       FROM generate_series(1, $2::int) i`,
      [source.id, contexts],
    );
    // Dead letters over 30 days, a run's worth sharing one timestamp (as one transaction writes them);
    // 90 % open, four entities, mostly DATA.
    await db.query(
      `INSERT INTO dead_letters (id, source_id, entity, context_type, key, record_key, category, error, payload, mapping_version, status, created_at)
       SELECT gen_random_uuid(), $1::uuid, (ARRAY['customers','orders','products','order_items'])[1 + i % 4], 'customer', ARRAY[i::text], i::text,
              CASE WHEN i % 50 = 1 THEN 'CONFIGURATION' ELSE 'DATA' END,
              jsonb_build_object('message', 'json_parse failed: invalid JSON', 'field', 'data.preferences', 'transform', 'json_parse'),
              jsonb_build_object('customer_id', i, 'preferences', '{not json'), 1,
              CASE WHEN i % 10 = 0 THEN 'replayed' ELSE 'open' END,
              now() - make_interval(secs => (i / 500) * 60)
       FROM generate_series(1, $2::int) i`,
      [source.id, deadLetters],
    );
    await db.query("VACUUM ANALYZE contexts");
    await db.query("VACUUM ANALYZE dead_letters");
  });
  console.error(`[lists] seeded in ${seed.seconds.toFixed(1)} s`);

  // Capture the SQL the store sends, to show its plan.
  const pool = pgPool();
  let last: { text: string; values: unknown[] } | null = null;
  const query = pool.query.bind(pool) as (...a: unknown[]) => Promise<unknown>;
  (pool as unknown as { query: unknown }).query = (text: unknown, values?: unknown) => {
    if (typeof text === "string" && /FROM (contexts|dead_letters)/.test(text)) last = { text, values: (values as unknown[]) ?? [] };
    return query(text, values);
  };

  const headers = { authorization: `Bearer ${token}` };
  const get = async (path: string) => {
    const res = await handleApiRequest(new Request(`http://localhost/api/v1${path}`, { headers }));
    if (res.status !== 200) throw new Error(`${path}: status ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown[]> & { next_cursor: string | null }>;
  };
  const bare = async (sql: string, values: unknown[]) => JSON.stringify((await db.query(sql, values)).rows);

  // A key deep in each list: 90 % of the way through.
  const deepContext = String(Math.floor(contexts * 0.9));
  const { rows: deepRows } = await db.query(
    "SELECT created_at, id FROM dead_letters WHERE source_id = $1 AND status = 'open' ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
    [source.id, Math.floor(deadLetters * 0.8)],
  );
  const deepLetter = deepRows[0] as { created_at: Date; id: string };
  const cases: { name: string; path: string; sql: string; values: unknown[]; rows: string }[] = [
    {
      name: "contexts, first page",
      path: "/contexts?context_type=customer&limit=50",
      sql: "SELECT * FROM contexts WHERE context_type = $1 AND NOT deleted ORDER BY context_type, context_id LIMIT 51",
      values: ["customer"],
      rows: "contexts",
    },
    {
      name: "contexts, page at 90 % (cursor)",
      path: `/contexts?context_type=customer&limit=50&cursor=${encodeCursor(["customer", deepContext])}`,
      sql: "SELECT * FROM contexts WHERE context_type = $1 AND NOT deleted AND context_id > $2 ORDER BY context_type, context_id LIMIT 51",
      values: ["customer", deepContext],
      rows: "contexts",
    },
    {
      name: "dead letters (source, open), first page",
      path: `/dead-letters?source_id=${source.id}&status=open&limit=50`,
      sql: "SELECT * FROM dead_letters WHERE source_id = $1 AND status = 'open' ORDER BY created_at DESC, id DESC LIMIT 51",
      values: [source.id],
      rows: "dead_letters",
    },
    {
      name: "dead letters (source, open), page at 80 % (cursor)",
      path: `/dead-letters?source_id=${source.id}&status=open&limit=50&cursor=${encodeCursor([deepLetter.created_at.toISOString(), deepLetter.id])}`,
      sql: "SELECT * FROM dead_letters WHERE source_id = $1 AND status = 'open' AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT 51",
      values: [source.id, deepLetter.created_at, deepLetter.id],
      rows: "dead_letters",
    },
    {
      name: "dead letters (source, open, entity, category), first page",
      path: `/dead-letters?source_id=${source.id}&status=open&entity=orders&category=CONFIGURATION&limit=50`,
      sql: "SELECT * FROM dead_letters WHERE source_id = $1 AND status = 'open' AND entity = 'orders' AND category = 'CONFIGURATION' ORDER BY created_at DESC, id DESC LIMIT 51",
      values: [source.id],
      rows: "dead_letters",
    },
    {
      name: "dead letters (all statuses), first page",
      path: `/dead-letters?source_id=${source.id}&limit=50`,
      sql: "SELECT * FROM dead_letters WHERE source_id = $1 ORDER BY created_at DESC, id DESC LIMIT 51",
      values: [source.id],
      rows: "dead_letters",
    },
  ];

  const figures: Figure[] = [];
  const plans: Record<string, string> = {};
  for (const c of cases) {
    const first = await get(c.path);
    if ((first[c.rows] as unknown[]).length !== 50) throw new Error(`${c.name}: expected a full page, got ${(first[c.rows] as unknown[]).length}`);
    const captured = last as { text: string; values: unknown[] } | null;
    if (captured) {
      const { rows } = await db.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${captured.text}`, captured.values);
      plans[c.name] = rows.map((r: Record<string, string>) => r["QUERY PLAN"]).join("\n");
    }
    for (let i = 0; i < 20; i++) await get(c.path);
    const api = await timed(async () => {
      for (let i = 0; i < calls; i++) await get(c.path);
    });
    for (let i = 0; i < 20; i++) await bare(c.sql, c.values);
    const base = await timed(async () => {
      for (let i = 0; i < calls; i++) await bare(c.sql, c.values);
    });
    figures.push({ name: `GET ${c.name}`, value: (api.seconds / calls) * 1000, unit: "ms/page", higherIsBetter: false, baseline: { name: "bare pg SELECT of the page", value: (base.seconds / calls) * 1000 } });
  }
  // The open-count badge the console polls.
  const { countOpen } = await import("../../server/store/dead-letters.ts");
  const count = await timed(async () => {
    for (let i = 0; i < 50; i++) await countOpen();
  });
  const bareCount = await timed(async () => {
    for (let i = 0; i < 50; i++) await db.query("SELECT count(*) FROM dead_letters WHERE status = 'open'");
  });
  figures.push({ name: "open dead-letter count (console badge)", value: (count.seconds / 50) * 1000, unit: "ms", higherIsBetter: false, baseline: { name: "bare pg count(*)", value: (bareCount.seconds / 50) * 1000 } });

  for (const [name, plan] of Object.entries(plans)) console.error(`\n[plan] ${name}\n${plan}`);
  await db.end();
  await pool.end();
  await server.stop();
  return { scenario: "lists", machine: machine(), started_at: new Date().toISOString(), figures, extra: { contexts, dead_letters: deadLetters, calls, seed_seconds: seed.seconds, plans } };
}
