// The Prisma client, one per process (a globalThis singleton survives Next's dev reloads).
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "../generated/prisma/client.ts";
import { env } from "./env.ts";

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

/** A plain pg pool on the metadata database, for bulk paths (context store writes) where Prisma's per-row overhead shows. */
export function pgPool(): pg.Pool {
  if (!globalForPool.ecmPgPool) {
    // Room for every snapshot chunk a worker may have committing at once, and the rest beside them.
    const e = env();
    globalForPool.ecmPgPool = new pg.Pool({ connectionString: e.DATABASE_URL, max: Math.max(10, e.ECM_WORKER_CONCURRENCY * e.ECM_SNAPSHOT_COMMITS_IN_FLIGHT + 4) });
    globalForPool.ecmPgPool.on("error", () => {}); // an idle client's error; the next query reports it
  }
  return globalForPool.ecmPgPool;
}
