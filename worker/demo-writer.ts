// The demo writer: inside the worker started by `npm start` on embedded defaults, a few changes a
// second to the demo database only, so the demo's contexts change, its lag and throughput charts
// move and, now and then, a broken `preferences` value waits as a dead letter to be replayed.
// It only ever touches the demo database (ECM_DEMO_DATABASE_URL, given to this worker by npm
// start, with a login of its own that is a member of the demo role and nothing more; it checks
// the database's name and acts as the demo's own role), and writes only while
// the demo source exists with its writer switched on (the console's switch, sources.demo_writer)
// and its stream enabled (nothing piles up unread); not at all with ECM_DEMO_WRITER=off.
//   each tick: two customers' preferences change (valid JSON for valid rows), an order is placed
//   with one to three lines, another changes status, and the orders it placed beyond the newest
//   50 are deleted (lines first); every 30th tick one of the customers whose preferences are
//   already broken gets another broken value (a DATA error, a dead letter).
// The number of customers, of broken ones and of the writer's orders stays bounded.
import pg from "pg";
import { pgPool, reportErrorsByStatement } from "../server/db.ts";
import { logger } from "../server/logger.ts";
import { DEMO_DATABASE, DEMO_ROLE } from "../scripts/lib/demo-source.ts";

const log = logger("worker.demo");
const FIRST_WRITER_ORDER = 1_000_000; // orders the writer places are numbered from here
const KEEP_ORDERS = 50;

export type DemoWriter = { stop: () => Promise<void> };

export function startDemoWriter(databaseUrl: string, everyMs = 1000): DemoWriter {
  const demo = new pg.Pool({ connectionString: databaseUrl, max: 1, application_name: "ecm-demo-writer", connectionTimeoutMillis: 5000 });
  reportErrorsByStatement(demo); // surfaced by the failing tick
  let tick = 0;
  let running: Promise<void> | null = null;
  let lastProblem = "";
  const timer = setInterval(() => {
    if (running) return; // a slow tick is not queued behind: the next one is skipped
    running = (async () => {
      try {
        if (!(await switchedOn())) return;
        await writeTick(demo, ++tick);
        lastProblem = "";
      } catch (e) {
        const message = (e as Error).message;
        if (message !== lastProblem) log.warn({ error: message }, "demo writer tick failed");
        lastProblem = message;
      }
    })().finally(() => (running = null));
  }, everyMs);
  log.info({ every_ms: everyMs }, "demo writer started");
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
      await demo.end().catch(() => {});
    },
  };
}

async function switchedOn(): Promise<boolean> {
  const { rows } = await pgPool().query<{ on: boolean }>(
    "SELECT s.demo_writer AND coalesce(st.enabled, false) AS on FROM sources s LEFT JOIN streams st ON st.source_id = s.id WHERE s.is_demo LIMIT 1",
  );
  return rows[0]?.on === true;
}

async function writeTick(db: pg.Pool, tick: number) {
  const client = await db.connect();
  try {
    await client.query("BEGIN");
    const { rows: where } = await client.query<{ db: string }>("SELECT current_database() AS db");
    if (where[0]!.db !== DEMO_DATABASE) throw new Error(`ECM_DEMO_DATABASE_URL names database ${where[0]!.db}, not the demo's (${DEMO_DATABASE}): the demo writer writes nowhere else`);
    await client.query(`SET LOCAL ROLE ${DEMO_ROLE}`);
    await client.query(
      `UPDATE customers SET preferences = json_build_object('newsletter', random() < 0.5, 'language', (ARRAY['en','de','fr','ja'])[1 + floor(random() * 4)::int],
         'channels', json_build_array('email', 'push'), 'tick', $1::int)::text, updated_at = now()
       WHERE customer_id IN (SELECT customer_id FROM customers WHERE customer_id % 97 <> 0 ORDER BY random() LIMIT 2)`,
      [tick],
    );
    const { rows } = await client.query<{ id: string }>("SELECT greatest(coalesce(max(order_id), 0), $1::bigint) + 1 AS id FROM orders", [FIRST_WRITER_ORDER]);
    const orderId = rows[0]!.id;
    await client.query(
      `INSERT INTO orders (order_id, customer_id, status, total, ordered_at)
       SELECT $1::bigint, customer_id, 'pending', 0, now() FROM customers ORDER BY random() LIMIT 1`,
      [orderId],
    );
    await client.query(
      `INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price)
       SELECT $1::bigint, l, p.product_id, 1 + floor(random() * 3)::int, p.price
       FROM generate_series(1, 1 + floor(random() * 3)::int) AS l
       CROSS JOIN LATERAL (SELECT product_id, price FROM products ORDER BY random() + l * 0 LIMIT 1) p`,
      [orderId],
    );
    await client.query("UPDATE orders SET total = (SELECT coalesce(sum(quantity * unit_price), 0) FROM order_items WHERE order_id = $1) WHERE order_id = $1", [orderId]);
    await client.query(
      `UPDATE orders SET status = (ARRAY['paid','shipped','delivered','cancelled']::order_status[])[1 + floor(random() * 4)::int]
       WHERE order_id = (SELECT order_id FROM orders ORDER BY random() LIMIT 1)`,
    );
    // Bounded: only the newest orders the writer placed stay.
    const stale = `SELECT order_id FROM orders WHERE order_id > $1 ORDER BY order_id DESC OFFSET ${KEEP_ORDERS}`;
    await client.query(`DELETE FROM order_items WHERE order_id IN (${stale})`, [FIRST_WRITER_ORDER]);
    await client.query(`DELETE FROM orders WHERE order_id IN (${stale})`, [FIRST_WRITER_ORDER]);
    if (tick % 30 === 0) {
      await client.query(
        `UPDATE customers SET preferences = '{"newsletter": true, "channels": ["email", ' || $1::int, updated_at = now()
         WHERE customer_id = (SELECT customer_id FROM customers WHERE customer_id % 97 = 0 ORDER BY random() LIMIT 1)`,
        [tick],
      );
    }
    await client.query("COMMIT");
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}
