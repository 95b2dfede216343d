// A snapshot reader in a process of its own, for the kill -9 test: reads an entity in chunks and
// after each chunk durably records its last key and the keys it read in the source database.
import pg from "pg";
import { PostgresConnector } from "../../../server/connectors/postgresql/connector.ts";
import type { TPostgresConfig } from "../../../server/connectors/postgresql/config.ts";

const [configJson, url, entity, delayMs] = process.argv.slice(2) as [string, string, string, string];
const db = new pg.Client({ connectionString: url });
db.on("error", () => {}); // a server going away is reported by the next query
await db.connect();
const { rows } = await db.query<{ last_key: string[] | null }>("SELECT last_key FROM snapshot_checkpoint WHERE entity = $1", [entity]);
const connector = new PostgresConnector({ sourceId: "00000000-0000-0000-0000-0000000d1ed0" });
await connector.initialize(JSON.parse(configJson) as TPostgresConfig);
for await (const chunk of connector.readSnapshotChunks!(entity, { batch_size: 100, after: rows[0]?.last_key ?? null })) {
  await db.query("BEGIN");
  await db.query("INSERT INTO snapshot_reads (run_pid, key) SELECT $1, unnest($2::text[])", [process.pid, chunk.keys.map((k) => k[0])]);
  await db.query("INSERT INTO snapshot_checkpoint (entity, last_key) VALUES ($1, $2) ON CONFLICT (entity) DO UPDATE SET last_key = EXCLUDED.last_key", [entity, chunk.resume_after]);
  await db.query("COMMIT");
  process.stdout.write(`checkpoint ${chunk.resume_after.join(",")}\n`);
  await new Promise((r) => setTimeout(r, Number(delayMs)));
}
await connector.shutdown();
await db.end();
process.stdout.write("done\n");
