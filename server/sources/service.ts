// Registering, changing and removing sources. Called by tRPC, the public HTTP API and start-up
// (the demo source) alike, so validation and secret handling live here once.
import { syncSchedule } from "../schedules/service.ts";
import { dropsCapture } from "./schemas.ts";
import type { z } from "zod";
import { jsonDiff } from "../audit/diff.ts";
import { recordIn } from "../audit/trail.ts";
import { redact } from "../secrets/redact.ts";
import { AppError } from "../errors/app-error.ts";
import { logger } from "../logger.ts";
import type { Principal } from "../auth/roles.ts";
import { secretScheme, storedSecretId } from "../secrets/references.ts";
import { secretKey } from "../secrets/key.ts";
import { deleteSecrets, secretBinding, storeSecret } from "../store/secrets.ts";
import { changedFields, sameConnection } from "../secrets/binding.ts";
import * as store from "../store/sources.ts";
import { connectionIdentity, type TConnectorConfig } from "../connectors/registry.ts";
import type { SourceRow } from "../store/sources.ts";
import type { TSource, ZCreateSourceInput, ZDeleteSourceInput, ZListInput, ZUpdateSourceInput } from "./schemas.ts";

const log = logger("sources");
type Tx = Parameters<Parameters<typeof store.inTransaction>[0]>[0];

export function toSourceDto(row: SourceRow): TSource {
  return {
    id: row.id,
    name: row.name,
    connector_type: row.connectorType as TSource["connector_type"],
    config: row.config as TSource["config"],
    status: row.state as TSource["status"],
    last_error: row.lastError,
    is_demo: row.isDemo,
    demo_writer: row.isDemo && row.demoWriter,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/**
 * A stored secret (secret://) belongs to the one source it was typed for: a config may name it
 * only when it is that source's own (`current`, the source's stored config; null for a new or
 * draft source). Otherwise a copied or exported config would share it (and lose it when the
 * other source changes its password), or an editor could point another source's password at a
 * host of their choosing.
 */
function assertOwnSecret(config: TConnectorConfig, current: unknown) {
  const ref = config.authentication.password_secret;
  if (!ref || !storedSecretId(ref) || secretIdsOf(current).includes(storedSecretId(ref)!)) return;
  throw AppError.invalid([
    {
      path: "config.authentication.password_secret",
      message: "a stored secret belongs to the source it was typed for; type the password (authentication.password) for this one",
    },
  ]);
}

/**
 * Replaces a typed password with a secret:// reference to its encrypted copy (bound to this
 * config's connection), and checks that a secret:// reference given by the caller is this
 * source's own, exists, and was typed for the same connection: a password is never carried over
 * to another host, port, database, user or TLS setting. Returns the config as it may be stored.
 */
async function sealSecrets(tx: Tx, config: TConnectorConfig, current: unknown, by: Principal | undefined): Promise<TConnectorConfig> {
  const { password, ...authentication } = config.authentication;
  assertExternalReferenceAllowed(config, current, by);
  if (password !== undefined) {
    const id = await storeSecret(tx, secretKey(), password, connectionIdentity(config));
    return { ...config, authentication: { ...authentication, password_secret: `secret://${id}` } };
  }
  assertOwnSecret(config, current);
  const stored = authentication.password_secret ? storedSecretId(authentication.password_secret) : null;
  if (stored) {
    const binding = await secretBinding(tx, stored);
    if (binding === undefined) {
      throw AppError.invalid([{ path: "config.authentication.password_secret", message: "no stored secret has this id; enter the password again" }]);
    }
    const identity = connectionIdentity(config);
    if (!sameConnection(binding, identity)) {
      const changed = changedFields(binding, identity);
      throw AppError.invalid([
        {
          path: "config.authentication.password",
          message: `the connection changed (${changed.join(", ") || "unknown"}); type the password again: a stored password is only sent to the connection it was typed for`,
        },
      ]);
    }
  }
  return { ...config, authentication };
}

const EXTERNAL: ReadonlySet<string> = new Set(["env", "file", "vault"]);
const externalReference = (config: unknown): string | null => {
  const ref = (config as TConnectorConfig | null)?.authentication?.password_secret;
  return ref && EXTERNAL.has(secretScheme(ref) ?? "") ? ref : null;
};

/**
 * A reference to a secret the operator provides (env://, file://, vault://) is sent to whatever
 * connection its config names: only an admin may point one at a connection. An editor may keep
 * one where an admin put it (an edit that leaves the reference and the connection as they are).
 */
function assertExternalReferenceAllowed(config: TConnectorConfig, current: unknown, by: Principal | undefined) {
  const ref = externalReference(config);
  if (!ref || !by || by.role === "admin") return;
  if (externalReference(current) === ref && sameConnection(connectionIdentity(current as TConnectorConfig), connectionIdentity(config))) return;
  throw new AppError("FORBIDDEN", "only an admin may point an env://, file:// or vault:// secret at a connection", {
    category: "CONFIGURATION",
    issues: [
      {
        path: "config.authentication.password_secret",
        message: `${ref.split(/[/#]/).slice(0, 3).join("/")}… holds a secret the operator provided; an admin must set it for this connection (or type the password)`,
      },
    ],
  });
}

/**
 * Whether a draft's operator-provided secret may be used by `by` to test it: an admin's always;
 * anyone else's only for a connection a saved source already uses it for.
 */
export async function draftSecretAllowed(config: TConnectorConfig, by: Principal): Promise<boolean> {
  const ref = externalReference(config);
  if (!ref || by.role === "admin") return true;
  const users = await store.sourcesUsingReference(ref);
  return users.some((u) => sameConnection(connectionIdentity(u.config as TConnectorConfig), connectionIdentity(config)));
}

function secretIdsOf(config: unknown): string[] {
  const ref = (config as TConnectorConfig | null)?.authentication?.password_secret;
  const id = ref ? storedSecretId(ref) : null;
  return id ? [id] : [];
}

async function assertNameFree(tx: Tx, name: string, exceptId?: string) {
  const other = await store.findSourceByName(tx, name);
  if (other && other.id !== exceptId) {
    throw new AppError("CONFLICT", `a source named "${name}" already exists`, {
      category: "CONFIGURATION",
      issues: [{ path: "name", message: "already used by another source; choose another name" }],
    });
  }
}

/** `opts.by`: who asks (undefined: the product itself, as at start-up). */
export async function createSource(input: z.output<typeof ZCreateSourceInput>, opts: { isDemo?: boolean; by?: Principal } = {}) {
  const row = await store.inTransaction(async (tx) => {
    await assertNameFree(tx, input.name);
    const config = await sealSecrets(tx, input.config, null, opts.by);
    const created = await store.insertSource(tx, {
      name: input.name,
      connectorType: config.connector_type,
      config,
      isDemo: opts.isDemo ?? false,
    });
    await recordIn(tx, { action: "source.create", source_id: created.id, target: { kind: "source", id: created.id }, details: { name: created.name, config } });
    return created;
  });
  log.info({ source_id: row.id, name: row.name }, "source created");
  await scheduleChanged(row);
  return toSourceDto(row);
}

export async function listSources(input: z.output<typeof ZListInput>) {
  const rows = await store.listSources({ limit: input.limit + 1, cursor: input.cursor });
  const page = rows.slice(0, input.limit);
  return {
    sources: page.map(toSourceDto),
    next_cursor: rows.length > input.limit ? page[page.length - 1]!.id : null,
  };
}

/**
 * Its job scheduler follows a saved source at once; when Redis cannot be told now, the
 * supervisor's next tick does it (the source itself is saved either way).
 */
async function scheduleChanged(source: { id: string; config: unknown; schedulePaused: boolean }) {
  await syncSchedule(source).catch((error) => log.warn({ source_id: source.id, error }, "the schedule will be set by the supervisor's next tick (the queue did not answer)"));
}

export async function getSource(id: string) {
  const row = await store.findSource(id);
  if (!row) throw AppError.notFound(`source ${id}`);
  return toSourceDto(row);
}

/** Switches the demo source's writer on or off (a 400 for any other source). */
export async function setDemoWriter(id: string, enabled: boolean, by: Principal) {
  const source = await getSource(id);
  if (!source.is_demo) throw AppError.invalid([{ path: "id", message: "only the demo source has a demo writer" }]);
  const row = await store.inTransaction(async (tx) => {
    const updated = await store.updateSource(tx, id, { demoWriter: enabled });
    await recordIn(tx, { action: "source.demo_writer", source_id: id, target: { kind: "source", id }, details: { enabled } });
    return updated;
  });
  log.info({ source_id: id, enabled, by: by.name }, "demo writer switched");
  return toSourceDto(row);
}

export async function updateSource(input: z.output<typeof ZUpdateSourceInput>, by?: Principal) {
  const row = await store.inTransaction(async (tx) => {
    const current = await store.findSourceForUpdate(tx, input.id);
    if (!current) throw AppError.notFound(`source ${input.id}`);
    if (input.name !== undefined) await assertNameFree(tx, input.name, input.id);
    const config = input.config ? await sealSecrets(tx, input.config, current.config, by) : undefined;
    const updated = await store.updateSource(tx, input.id, {
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(config ? { config, connectorType: config.connector_type } : {}),
    });
    if (config) {
      const kept = new Set(secretIdsOf(config));
      await deleteSecrets(tx, secretIdsOf(current.config).filter((id) => !kept.has(id)));
    }
    // Secrets are references here (sealed above), and redacted by name besides.
    const changes = jsonDiff({ name: current.name, config: redact(current.config) }, { name: updated.name, config: redact(updated.config) });
    await recordIn(tx, { action: "source.update", source_id: input.id, target: { kind: "source", id: input.id }, details: { name: updated.name, changes } });
    return updated;
  });
  log.info({ source_id: row.id }, "source updated");
  await scheduleChanged(row);
  return toSourceDto(row);
}

export async function deleteSource(input: z.output<typeof ZDeleteSourceInput>) {
  await store.inTransaction(async (tx) => {
    const current = await store.findSourceForUpdate(tx, input.id);
    if (!current) throw AppError.notFound(`source ${input.id}`);
    const deleted = await store.deleteSource(tx, input.id);
    await deleteSecrets(tx, secretIdsOf(deleted.config));
    await recordIn(tx, { action: "source.delete", source_id: input.id, target: { kind: "source", id: input.id }, details: { name: current.name, drop_capture: dropsCapture(input) } });
  });
  log.info({ source_id: input.id, drop_capture: dropsCapture(input) }, "source deleted");
  await scheduleChanged({ id: input.id, config: {}, schedulePaused: true });
}
