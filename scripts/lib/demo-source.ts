// The demo source a newcomer explores: a small shop database (customers with a JSON
// `preferences` text column, products, orders, order lines with a composite key) inside the
// embedded PostgreSQL, owned by a role that may replicate, registered as a source.
import crypto from "node:crypto";
import pg from "pg";

export const DEMO_DATABASE = "ecm_demo";
export const DEMO_ROLE = "ecm_demo";

const SCHEMA_SQL = `
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'delivered', 'cancelled');

CREATE TABLE customers (
  customer_id  bigint PRIMARY KEY,
  email        text NOT NULL UNIQUE,
  first_name   text NOT NULL,
  last_name    text NOT NULL,
  country      char(2) NOT NULL,
  preferences  text,            -- JSON kept as text by the application; a few rows hold broken JSON
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
  product_id   integer PRIMARY KEY,
  sku          text NOT NULL UNIQUE,
  name         text NOT NULL,
  price        numeric(10,2) NOT NULL,
  tags         text[] NOT NULL DEFAULT '{}',
  attributes   jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE orders (
  order_id     bigint PRIMARY KEY,
  customer_id  bigint NOT NULL REFERENCES customers(customer_id),
  status       order_status NOT NULL,
  total        numeric(12,2) NOT NULL,
  ordered_at   timestamptz NOT NULL
);

CREATE TABLE order_items (
  order_id     bigint NOT NULL REFERENCES orders(order_id),
  line_no      smallint NOT NULL,
  product_id   integer NOT NULL REFERENCES products(product_id),
  quantity     integer NOT NULL,
  unit_price   numeric(10,2) NOT NULL,
  PRIMARY KEY (order_id, line_no)
);

INSERT INTO customers (customer_id, email, first_name, last_name, country, preferences, created_at, updated_at)
SELECT i,
       'customer' || i || '@example.com',
       (ARRAY['Ada','Grace','Alan','Edsger','Barbara','Donald','Frances','Ken','Radia','Tim'])[1 + i % 10],
       (ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Knuth','Allen','Thompson','Perlman','Berners-Lee'])[1 + (i / 10) % 10],
       (ARRAY['DE','FR','GB','US','JP','BR','IN','NL'])[1 + i % 8],
       CASE
         WHEN i % 97 = 0 THEN '{"newsletter": true, "channels": ["email",'   -- broken JSON: a DATA error in a json_parse mapping
         WHEN i % 13 = 0 THEN NULL
         ELSE json_build_object('newsletter', i % 2 = 0, 'language', (ARRAY['en','de','fr','ja'])[1 + i % 4],
                                'channels', json_build_array('email', CASE WHEN i % 3 = 0 THEN 'sms' ELSE 'push' END))::text
       END,
       timestamptz '2024-01-01 00:00:00+00' + make_interval(hours => i * 7),
       timestamptz '2024-01-01 00:00:00+00' + make_interval(hours => i * 7 + 3)
FROM generate_series(1, 2000) AS i;

INSERT INTO products (product_id, sku, name, price, tags, attributes)
SELECT i,
       'SKU-' || lpad(i::text, 5, '0'),
       (ARRAY['Keyboard','Mouse','Monitor','Headset','Dock','Webcam','Chair','Desk'])[1 + i % 8] || ' ' || i,
       round((5 + (i * 37 % 500) + (i % 100) / 100.0)::numeric, 2),
       ARRAY[(ARRAY['office','gaming','audio','video'])[1 + i % 4]],
       jsonb_build_object('color', (ARRAY['black','white','grey'])[1 + i % 3], 'weight_g', 100 + i * 13 % 2000)
FROM generate_series(1, 200) AS i;

INSERT INTO orders (order_id, customer_id, status, total, ordered_at)
SELECT i,
       1 + (i * 7919) % 2000,
       (ARRAY['pending','paid','shipped','delivered','cancelled']::order_status[])[1 + i % 5],
       0,
       timestamptz '2024-06-01 00:00:00+00' + make_interval(mins => i * 53)
FROM generate_series(1, 5000) AS i;

INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price)
SELECT o.order_id, l.line_no, p.product_id, 1 + (o.order_id + l.line_no) % 4, p.price
FROM orders o
CROSS JOIN LATERAL generate_series(1, 1 + (o.order_id % 3)::int) AS l(line_no)
JOIN products p ON p.product_id = 1 + (o.order_id * 31 + l.line_no * 17) % 200;

UPDATE orders o SET total = s.total
FROM (SELECT order_id, sum(quantity * unit_price) AS total FROM order_items GROUP BY order_id) s
WHERE s.order_id = o.order_id;

ANALYZE;
`;

/** The demo writer's own login: a member of the demo role and nothing else (never the superuser). */
export const DEMO_WRITER_ROLE = "ecm_demo_writer";

/**
 * Makes (or re-keys) the demo writer's login: LOGIN, member of the demo role (its tables' rights),
 * no other rights, its session acting as the demo role. Returns its URL for the writer alone.
 */
export async function ensureDemoWriterLogin(adminUrl: string, password: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [DEMO_WRITER_ROLE]);
    const pw = admin.escapeLiteral(password);
    if (exists.rowCount) await admin.query(`ALTER ROLE ${DEMO_WRITER_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD ${pw}`);
    else await admin.query(`CREATE ROLE ${DEMO_WRITER_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD ${pw} IN ROLE ${DEMO_ROLE}`);
    await admin.query(`GRANT ${DEMO_ROLE} TO ${DEMO_WRITER_ROLE}`);
    await admin.query(`ALTER ROLE ${DEMO_WRITER_ROLE} SET role = ${DEMO_ROLE}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.username = DEMO_WRITER_ROLE;
  url.password = password;
  url.pathname = `/${DEMO_DATABASE}`;
  return url.toString();
}

/** Creates the demo database and its owner role. Returns the role's (generated) password. */
export async function createDemoDatabase(adminUrl: string): Promise<{ user: string; password: string }> {
  const password = crypto.randomBytes(18).toString("base64url");
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [DEMO_DATABASE]);
    if (exists.rowCount) await admin.query(`DROP DATABASE ${DEMO_DATABASE} WITH (FORCE)`); // a half-made demo from an interrupted start
    await admin.query(`DROP ROLE IF EXISTS ${DEMO_ROLE}`);
    // The role may replicate so the demo can stream changes; it owns its tables so it may publish them.
    await admin.query(`CREATE ROLE ${DEMO_ROLE} LOGIN REPLICATION PASSWORD ${admin.escapeLiteral(password)}`);
    await admin.query(`CREATE DATABASE ${DEMO_DATABASE} OWNER ${DEMO_ROLE}`);
  } finally {
    await admin.end();
  }
  const demoUrl = new URL(adminUrl);
  demoUrl.username = DEMO_ROLE;
  demoUrl.password = password;
  demoUrl.pathname = `/${DEMO_DATABASE}`;
  const demo = new pg.Client({ connectionString: demoUrl.toString() });
  await demo.connect();
  try {
    await demo.query(SCHEMA_SQL);
  } finally {
    await demo.end();
  }
  return { user: DEMO_ROLE, password };
}
