import path from "node:path";
import { defineConfig } from "prisma/config";

// Prisma's Rust schema engine cannot be downloaded on our machines. `prisma generate` only needs
// the path to exist; migrations are applied by scripts/db/migrate.ts and diffed by
// scripts/db/schema-engine.ts (WASM engine). The stub fails loudly if anything tries to use it.
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= path.join(import.meta.dirname, "scripts/db/no-schema-engine.sh");

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost:5432/ecm" },
});
