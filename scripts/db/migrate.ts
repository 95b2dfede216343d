// npm run db:migrate: apply pending migrations to $DATABASE_URL (npm start does this itself).
import { applyMigrations } from "../../server/db/migrations.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("DATABASE_URL is not set. Example: DATABASE_URL=postgresql://user@127.0.0.1:5432/ecm npm run db:migrate");
  process.exit(1);
}
const { applied } = await applyMigrations(url);
console.log(applied.length ? `applied: ${applied.join(", ")}` : "no pending migrations");
