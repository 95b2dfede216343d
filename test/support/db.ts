import pg from "pg";

/** A plain pg client on the test metadata database, for assertions the API does not expose. */
export async function withDb<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  client.on("error", () => {}); // a server going away is reported by the next query
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function resetMetadata() {
  await withDb((c) => c.query(`TRUNCATE sources, secrets, api_tokens, "user", session, account, verification, rate_limit CASCADE`));
}
