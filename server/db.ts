// The Prisma client, one per process (a globalThis singleton survives Next's dev reloads).
import { PrismaPg } from "@prisma/adapter-pg";
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
