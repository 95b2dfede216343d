-- AlterTable
ALTER TABLE "secrets" ADD COLUMN     "binding" JSONB;

-- AlterTable
ALTER TABLE "user" ADD COLUMN     "mustChangePassword" BOOLEAN NOT NULL DEFAULT false;

-- A stored password is bound to the connection of the source it belongs to (PostgreSQL's
-- connectionIdentity in server/connectors/postgresql/config.ts); secrets of no source stay unbound
-- and are refused until the password is typed again.
UPDATE "secrets" s SET "binding" = jsonb_build_object(
    'connector_type', src.config->>'connector_type',
    'host', lower(src.config->'connection'->>'host'),
    'port', src.config->'connection'->'port',
    'database', src.config->'connection'->>'database',
    'username', src.config->'authentication'->>'username',
    'ssl_mode', src.config->'connection'->>'ssl_mode',
    'ssl_root_cert', coalesce(src.config->'connection'->'ssl_root_cert', 'null'::jsonb))
FROM "sources" src
WHERE src.config->'authentication'->>'password_secret' = 'secret://' || s.id::text;

-- A token is deleted with the user who created it.
-- DropForeignKey
ALTER TABLE "api_tokens" DROP CONSTRAINT "api_tokens_created_by_id_fkey";

-- AddForeignKey
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "user"("id") ON DELETE CASCADE ON UPDATE CASCADE;
