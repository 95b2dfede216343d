// The schema and its migrations: no drift, and applying them is idempotent.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { applyMigrations } from "../../server/db/migrations.ts";
import { withDb } from "../support/db.ts";

const run = promisify(execFile);

describe("database migrations", () => {
  it("prisma/migrations produce exactly prisma/schema.prisma (drift check through Prisma's WASM engine)", async () => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "scripts/db/schema-engine.ts", "check"], {
      env: { ...process.env, DATABASE_URL: process.env.TEST_SERVER_URL },
    });
    expect(stdout).toMatch(/match/);
  });

  it("records migrations the way Prisma does and applies nothing twice", async () => {
    expect(await applyMigrations(process.env.DATABASE_URL!)).toEqual({ applied: [] });
    const rows = await withDb((c) => c.query(`SELECT migration_name, finished_at IS NOT NULL AS done, length(checksum) AS len FROM "_prisma_migrations"`));
    expect(rows.rows.length).toBeGreaterThan(0);
    for (const r of rows.rows) expect(r).toMatchObject({ done: true, len: 64 });
  });
});
