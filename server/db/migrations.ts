// Applies prisma/migrations/*/migration.sql in name order and records them in Prisma's own
// `_prisma_migrations` table (same DDL, sha256 checksum, same advisory lock), so `prisma migrate
// deploy` can take over on a machine that has Prisma's engine. Needs only `pg`: it runs at every
// start of the product, where Prisma's schema engine binary is not available.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";

const PRISMA_MIGRATE_LOCK = 72707369;

export type MigrationResult = { applied: string[] };

export async function applyMigrations(
  databaseUrl: string,
  dir = path.resolve(process.cwd(), "prisma/migrations"),
): Promise<MigrationResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [PRISMA_MIGRATE_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const { rows } = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
    );
    const failed = rows.filter((r) => r.finished_at === null).map((r) => r.migration_name);
    if (failed.length) {
      throw new Error(
        `migration(s) ${failed.join(", ")} failed earlier (see _prisma_migrations.logs). Repair the schema by hand, ` +
          `then: UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = '<name>'`,
      );
    }
    const appliedChecksums = new Map(rows.map((r) => [r.migration_name, r.checksum]));
    const applied: string[] = [];
    for (const name of migrationNames(dir)) {
      const sql = fs.readFileSync(path.join(dir, name, "migration.sql"), "utf8");
      const checksum = crypto.createHash("sha256").update(sql).digest("hex");
      const known = appliedChecksums.get(name);
      if (known) {
        if (known !== checksum) console.warn(`[migrate] warning: ${name} was edited after it was applied`);
        continue;
      }
      const id = crypto.randomUUID();
      await client.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
         VALUES ($1, $2, $3, now(), 0)`,
        [id, checksum, name],
      );
      try {
        // One simple-protocol query for the whole script, as Prisma's engine does: $$ bodies and
        // semicolons inside strings stay intact, and the implicit transaction makes it all-or-nothing.
        await client.query(sql);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        await client.query(`UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1`, [id, message]);
        throw new Error(`migration ${name} failed: ${message}`);
      }
      await client.query(
        `UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`,
        [id],
      );
      applied.push(name);
    }
    return { applied };
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [PRISMA_MIGRATE_LOCK]).catch(() => {});
    await client.end();
  }
}

function migrationNames(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}
