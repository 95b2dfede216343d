// The public API's own overhead: GET /api/v1/sources?limit=100 (token auth, Prisma, zod output
// validation, JSON) through the same handler Next serves, against the bare SELECT of the same rows
// with pg. Foundation scenario of the harness; the data-path scenarios measure the pipeline.
import pg from "pg";
import { benchPostgres, productInProcess } from "../env.ts";
import { machine, timed, type BenchResult } from "../harness.ts";

export async function run(): Promise<BenchResult> {
  const server = await benchPostgres();
  const token = await productInProcess(server, "ecm_bench_api");

  const { createSource } = await import("../../server/sources/service.ts");
  const { handleApiRequest } = await import("../../server/http/handler.ts");
  for (let i = 0; i < 100; i++) {
    await createSource({
      name: `source-${i}`,
      config: {
        connector_type: "postgresql",
        connection: { host: "db.example.com", port: 5432, database: `db${i}`, ssl_mode: "require" },
        authentication: { type: "credentials", username: "reader", password_secret: "vault://db/pg#password" },
        options: { batch_size: 1000, change_tracking: "cdc" },
      },
    });
  }

  const N = 500;
  const headers = { authorization: `Bearer ${token}` };
  const apiCall = async () => {
    const res = await handleApiRequest(new Request("http://localhost/api/v1/sources?limit=100", { headers }));
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    return res.text();
  };
  for (let i = 0; i < 50; i++) await apiCall(); // warm up
  const api = await timed(async () => {
    for (let i = 0; i < N; i++) await apiCall();
  });

  const direct = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await direct.connect();
  const select = () => direct.query("SELECT * FROM sources ORDER BY created_at, id LIMIT 101").then((r) => JSON.stringify(r.rows));
  for (let i = 0; i < 50; i++) await select();
  const baseline = await timed(async () => {
    for (let i = 0; i < N; i++) await select();
  });
  await direct.end();
  await server.stop();

  return {
    scenario: "api-read",
    machine: machine(),
    started_at: new Date().toISOString(),
    figures: [
      {
        name: "GET /api/v1/sources (100 rows)",
        value: N / api.seconds,
        unit: "req/s",
        baseline: { name: "pg SELECT + JSON.stringify", value: N / baseline.seconds },
      },
    ],
  };
}
