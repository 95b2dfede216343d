// The demo shop database (scripts/lib/demo-source.ts) on the test server, registered as a source
// through the API with its password typed in.
import pg from "pg";
import { createDemoDatabase, DEMO_DATABASE } from "../../scripts/lib/demo-source.ts";
import { api } from "./http.ts";

export async function registerDemoSource(name: string, editorToken: string) {
  const server = process.env.TEST_SERVER_URL!;
  const admin = new pg.Client({ connectionString: server });
  admin.on("error", () => {}); // a server going away is reported by the next query
  await admin.connect();
  await admin.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1", [DEMO_DATABASE]);
  await admin.end();
  const { user, password } = await createDemoDatabase(server);
  const u = new URL(server);
  const created = await api("POST", "/sources", {
    token: editorToken,
    body: {
      name,
      config: {
        connector_type: "postgresql",
        connection: { host: u.hostname, port: Number(u.port), database: DEMO_DATABASE, ssl_mode: "disable" },
        authentication: { type: "credentials", username: user, password },
      },
    },
  });
  const url = Object.assign(new URL(server), { username: user, password, pathname: `/${DEMO_DATABASE}` }).toString();
  return { sourceId: created.body.id as string, password, url };
}
