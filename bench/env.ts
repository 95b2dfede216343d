// The servers a benchmark runs against: BENCH_DATABASE_URL (a PostgreSQL with wal_level=logical),
// else an embedded one under .data/bench; REDIS_URL, else the local Redis.
import path from "node:path";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../scripts/lib/embedded-postgres.ts";

export async function benchPostgres(): Promise<{ url: (db?: string) => string; stop: () => Promise<void>; embedded?: EmbeddedPostgres }> {
  if (process.env.BENCH_DATABASE_URL) {
    const base = new URL(process.env.BENCH_DATABASE_URL);
    return {
      url: (db = base.pathname.slice(1) || "postgres") => Object.assign(new URL(base), { pathname: `/${db}` }).toString(),
      stop: async () => {},
    };
  }
  const embedded = await startEmbeddedPostgres({ dir: path.resolve(".data/bench/pg"), port: 54349, password: "ecm-bench", log: (l) => console.error(`[pg] ${l}`) });
  return { url: embedded.url, stop: embedded.stop, embedded };
}
