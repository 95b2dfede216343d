// Child process of the snapshot-read benchmark: extracts one table through the connector to a
// null sink and reports rows, seconds and its own peak RSS (so the figure is the worker's, alone).
import { PostgresConnector } from "../../server/connectors/postgresql/connector.ts";
import type { TPostgresConfig } from "../../server/connectors/postgresql/config.ts";

const [configJson, entity, batchSize] = process.argv.slice(2) as [string, string, string];
const connector = new PostgresConnector({ sourceId: "00000000-0000-0000-0000-0000000be0c4" });
await connector.initialize(JSON.parse(configJson) as TPostgresConfig);
await connector.describeEntity(entity); // catalog read outside the timed part, like a warm worker
let rows = 0;
let checksum = 0;
const t0 = process.hrtime.bigint();
for await (const chunk of connector.readSnapshotChunks!(entity, { batch_size: Number(batchSize) })) {
  rows += chunk.records.length;
  checksum += chunk.records.length ? Object.keys(chunk.records[0]!).length : 0;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
await connector.shutdown();
process.stdout.write(JSON.stringify({ rows, seconds, checksum, max_rss_mb: process.resourceUsage().maxRSS / 1024 }) + "\n");
