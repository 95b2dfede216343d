// Offline stand-in for `prisma migrate diff` / `migrate status`, driving Prisma's WASM schema
// engine through @prisma/adapter-pg (the Rust engine binary cannot be downloaded here).
//   diff --from empty|schema|migrations --to empty|schema|migrations [--script]
//   check   exit 1 when prisma/migrations does not produce exactly prisma/schema.prisma (drift)
// Needs a PostgreSQL it may create a temporary shadow database on: $DATABASE_URL, else
// $TEST_DATABASE_URL.
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import { parse as parsePgUrl } from "pg-connection-string";

const ROOT = process.cwd();
const SCHEMA = path.resolve(ROOT, "prisma/schema.prisma");
const MIGRATIONS = path.resolve(ROOT, "prisma/migrations");
const URL = process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL;

// Workarounds for @prisma/adapter-pg 7.10.1 when used by the schema engine:
// 1. Postgres' internal "char" type (OID 18), returned by catalog queries, cannot be deserialized:
//    report it as text.
type PgResult = { fields: pg.FieldDef[]; addFields(fields: pg.FieldDef[]): void; addRow(row: unknown): void };
const resultProto = pg.Result.prototype as unknown as PgResult;
const originalAddFields = resultProto.addFields;
resultProto.addFields = function (fields: pg.FieldDef[]) {
  for (const f of fields) if (f.dataTypeID === 18) f.dataTypeID = 25;
  return originalAddFields.call(this, fields);
};
// 4. PostgreSQL 18 records NOT NULL as constraints (pg_constraint.contype = 'n'); this engine's
//    describer panics on that type. NOT NULL is described from the columns anyway: drop those rows.
const originalAddRow = resultProto.addRow;
resultProto.addRow = function (this: PgResult, row: unknown) {
  const i = this.fields.findIndex((f) => f.name === "constraint_type");
  if (i >= 0 && Array.isArray(row) && row[i] === "n") return;
  return originalAddRow.call(this, row);
};

type Adapter = Awaited<ReturnType<PrismaPg["connect"]>> & { executeScript(script: string): Promise<void> };

// 2. executeScript splits on ";" (breaks $$ bodies): run the script as one simple-protocol query.
function wholeScripts(adapter: Adapter): Adapter {
  adapter.executeScript = async (script: string) => {
    try {
      await (adapter as unknown as { underlyingDriver(): pg.Pool }).underlyingDriver().query(script);
    } catch (e) {
      (adapter as unknown as { onError(e: unknown): never }).onError(e);
    }
  };
  return adapter;
}

// 3. connectToShadowDb ignores the shadow database name when built from a URL: create our own.
function migrationAwareFactory(url: string) {
  // pg-connection-string and adapter-pg bundle different @types/pg versions: the config is the same object.
  const cfg = parsePgUrl(url) as never as Record<string, unknown>;
  const main = new PrismaPg(cfg as never);
  return {
    provider: main.provider,
    adapterName: main.adapterName,
    connect: async () => wholeScripts((await main.connect()) as Adapter),
    async connectToShadowDb() {
      const name = `prisma_shadow_${randomUUID().replaceAll("-", "")}`;
      const admin = new pg.Client(cfg as pg.ClientConfig);
      await admin.connect();
      await admin.query(`CREATE DATABASE "${name}"`);
      const shadow = wholeScripts((await new PrismaPg({ ...cfg, database: name } as never).connect()) as Adapter);
      const dispose = shadow.dispose.bind(shadow);
      shadow.dispose = async () => {
        try {
          await dispose();
        } finally {
          await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
          await admin.end();
        }
      };
      return shadow;
    },
  };
}

const require = createRequire(import.meta.url);

async function loadEngine() {
  const gluePath = require.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
  // Prefer the WASM bundled with the prisma CLI: same engine version as `prisma generate`.
  const wasm = path.join(path.dirname(require.resolve("prisma/package.json")), "build/schema_engine_bg.wasm");
  const glue = await import(gluePath);
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(wasm), { "./schema_engine_bg.js": glue });
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports as { __wbindgen_start?: () => void }).__wbindgen_start?.();
  return glue;
}

function migrationsList() {
  const dirs = fs
    .readdirSync(MIGRATIONS, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const lock = path.join(MIGRATIONS, "migration_lock.toml");
  return {
    baseDir: MIGRATIONS,
    lockfile: { path: "migration_lock.toml", content: fs.existsSync(lock) ? fs.readFileSync(lock, "utf8") : null },
    shadowDbInitScript: "",
    migrationDirectories: dirs.map((d) => ({
      path: d,
      migrationFile: {
        path: "migration.sql",
        content: { tag: "ok", value: fs.readFileSync(path.join(MIGRATIONS, d, "migration.sql"), "utf8") },
      },
    })),
  };
}

async function diff(from: string, to: string, script: boolean, exitCode: boolean) {
  if (!URL) throw new Error("set DATABASE_URL (or TEST_DATABASE_URL) to a PostgreSQL where a shadow database may be created");
  const glue = await loadEngine();
  const files = [{ path: SCHEMA, content: fs.readFileSync(SCHEMA, "utf8") }];
  const target = (t: string) => {
    if (t === "empty") return { tag: "empty" };
    if (t === "schema") return { tag: "schemaDatamodel", files };
    if (t === "migrations") return { tag: "migrations", ...migrationsList() };
    throw new Error(`unknown diff target '${t}' (use empty, schema or migrations)`);
  };
  const adapter = bindMigrationAwareSqlAdapterFactory(migrationAwareFactory(URL) as never);
  const engine = await glue.SchemaEngine.new({ datamodels: files.map((f) => [f.path, f.content]) }, () => {}, adapter);
  try {
    const filters = { externalTables: [], externalEnums: [] };
    return (await engine.diff({ from: target(from), to: target(to), script, exitCode, filters })) as {
      exitCode: number;
      stdout: string;
    };
  } finally {
    engine.free();
  }
}

const [command, ...args] = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

if (command === "diff") {
  const r = await diff(option("--from") ?? "migrations", option("--to") ?? "schema", args.includes("--script"), false);
  process.stdout.write(r.stdout);
} else if (command === "check") {
  const r = await diff("migrations", "schema", true, true);
  if (r.exitCode === 2 || /\S/.test(r.stdout.replace(/--.*$/gm, ""))) {
    console.error("prisma/schema.prisma and prisma/migrations have drifted apart. Missing migration:\n");
    console.error(r.stdout);
    console.error("Fix: npm run db:diff > prisma/migrations/$(date +%Y%m%d%H%M%S)_<name>/migration.sql");
    process.exit(1);
  }
  console.log("db:check: prisma/migrations match prisma/schema.prisma");
} else {
  console.error("usage: schema-engine.ts diff --from <empty|schema|migrations> --to <…> [--script] | check");
  process.exit(64);
}
