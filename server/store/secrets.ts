// Encrypted storage of secrets typed into the console (referenced as secret://<id>).
import type { Prisma } from "../../generated/prisma/client.ts";
import { prisma } from "../db.ts";
import { changedFields, sameConnection, type ConnectionIdentity } from "../secrets/binding.ts";
import { open, seal } from "../secrets/crypto.ts";

type Tx = Prisma.TransactionClient;

/** Stores a typed value encrypted, bound to the connection it was typed for. */
export async function storeSecret(tx: Tx, key: Buffer, value: string, binding: ConnectionIdentity): Promise<string> {
  const sealed = seal(key, value);
  const row = await tx.secret.create({
    data: { ciphertext: new Uint8Array(sealed.ciphertext), iv: new Uint8Array(sealed.iv), authTag: new Uint8Array(sealed.authTag), keyId: sealed.keyId, binding },
    select: { id: true },
  });
  return row.id;
}

/** The connection a stored secret is bound to; undefined when there is no such secret. */
export async function secretBinding(tx: Tx, id: string): Promise<unknown> {
  const row = await tx.secret.findUnique({ where: { id }, select: { binding: true } });
  return row ? row.binding : undefined;
}

export async function deleteSecrets(tx: Tx, ids: string[]): Promise<void> {
  if (ids.length) await tx.secret.deleteMany({ where: { id: { in: ids } } });
}

/**
 * Decrypts a stored secret to connect to `connection`. Only the process that connects calls this;
 * a secret bound to another connection (or to none) is never decrypted.
 */
export async function readSecret(key: Buffer, id: string, connection: ConnectionIdentity): Promise<{ value: string } | { mismatch: string[] } | null> {
  const row = await prisma().secret.findUnique({ where: { id } });
  if (!row) return null;
  if (!sameConnection(row.binding, connection)) return { mismatch: changedFields(row.binding, connection) };
  return { value: open(key, { ciphertext: Buffer.from(row.ciphertext), iv: Buffer.from(row.iv), authTag: Buffer.from(row.authTag), keyId: row.keyId }) };
}
