// The Prisma client, one per process (a globalThis singleton survives Next's dev reloads).
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "../generated/prisma/client.ts";
import { env } from "./env.ts";
import { withOrigin } from "./errors/origin.ts";
import { sizeLargeMessagesExactly } from "./db/large-messages.ts";

// Every PostgreSQL connection of the process (store, sources, replication) receives a large
// message into one buffer of its size, not a doubling one (db/large-messages.ts).
sizeLargeMessagesExactly();

const globalForPrisma = globalThis as unknown as { ecmPrisma?: PrismaClient };

export function createPrisma(connectionString: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString, max: 10 }) });
}

export function prisma(): PrismaClient {
  globalForPrisma.ecmPrisma ??= createPrisma(env().DATABASE_URL);
  return globalForPrisma.ecmPrisma;
}

export type { PrismaClient };


const globalForPool = globalThis as unknown as { ecmPgPool?: pg.Pool };
/** How long the store keeps one of our sessions idle inside a transaction before ending it. */
export const IDLE_IN_TRANSACTION_MS = 30_000;

/**
 * A pool whose clients' connection errors are reported by the statement that meets them, never as
 * an 'error' event nobody hears (an uncaught exception kills the process): an idle client's error
 * reaches the pool, and a checked-out client has no pool listener, so the store (or a source)
 * going away while a holder waits between statements would otherwise crash it. release() drops a
 * client that is no longer queryable.
 */
export function reportErrorsByStatement(pool: pg.Pool) {
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
}

/** A plain pg pool on the metadata database, for bulk paths (context store writes) where Prisma's per-row overhead shows. */
export function pgPool(): pg.Pool {
  if (!globalForPool.ecmPgPool) {
    // Room for every snapshot chunk or stream batch a worker may have committing at once (a stream
    // commits two batches at once: pipeline/stream/ordered-commits.ts), and the rest beside them.
    const e = env();
    // A transaction left open by a stalled process (SIGSTOP, a paused VM) would hold its rows'
    // locks, and the stream's row with them, from the worker that took its lease over: the store
    // ends such a session (its transaction rolls back; every statement of ours runs back to back).
    globalForPool.ecmPgPool = new pg.Pool({
      connectionString: e.DATABASE_URL,
      max: Math.max(10, e.ECM_WORKER_CONCURRENCY * Math.max(2, e.ECM_SNAPSHOT_COMMITS_IN_FLIGHT) + 4),
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    });
    reportErrorsByStatement(globalForPool.ecmPgPool);
    markStoreErrors(globalForPool.ecmPgPool);
  }
  return globalForPool.ecmPgPool;
}

/**
 * What the store's pool throws is marked as the store's (errors/origin.ts): a store error caught
 * anywhere (a checkpoint, an owner update, a tombstone write) is never read as a source's. Promise
 * calls only: a COPY stream's errors are marked by the unit of work that runs it (within("store")). The
 * pool's connect and query and its clients' query are wrapped (the pool's query runs on a client by
 * callback, so it is not marked twice).
 */
function markStoreErrors(pool: pg.Pool) {
  const mark = <F extends (...args: never[]) => unknown>(query: F): F =>
    ((...args: Parameters<F>) => {
      const result = query(...args);
      return result instanceof Promise ? result.catch((e: unknown) => Promise.reject(withOrigin("store", e))) : result;
    }) as F;
  pool.query = mark(pool.query.bind(pool)) as typeof pool.query;
  pool.connect = mark(pool.connect.bind(pool)) as typeof pool.connect;
  pool.on("connect", (client) => {
    client.query = mark(client.query.bind(client)) as typeof client.query;
  });
}

/**
 * Runs `work` in one transaction on a pooled session: committed when it returns, rolled back when
 * it throws. `begin` may set the transaction up (`BEGIN; SET LOCAL …`).
 */
export async function inPgTransaction<T>(work: (client: pg.PoolClient) => Promise<T>, begin = "BEGIN"): Promise<T> {
  const client = await pgPool().connect();
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}
