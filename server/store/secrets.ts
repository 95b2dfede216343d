// Encrypted storage of secrets typed into the console (referenced as secret://<id>).
import type { Prisma } from "../../generated/prisma/client.ts";
import { prisma } from "../db.ts";
import { open, seal } from "../secrets/crypto.ts";

type Tx = Prisma.TransactionClient;

export async function storeSecret(tx: Tx, key: Buffer, value: string): Promise<string> {
  const sealed = seal(key, value);
  const row = await tx.secret.create({
    data: { ciphertext: new Uint8Array(sealed.ciphertext), iv: new Uint8Array(sealed.iv), authTag: new Uint8Array(sealed.authTag), keyId: sealed.keyId },
    select: { id: true },
  });
  return row.id;
}

export async function secretExists(tx: Tx, id: string): Promise<boolean> {
  return (await tx.secret.count({ where: { id } })) > 0;
}

export async function deleteSecrets(tx: Tx, ids: string[]): Promise<void> {
  if (ids.length) await tx.secret.deleteMany({ where: { id: { in: ids } } });
}

/** Decrypts a stored secret. Only the process that connects to a source calls this. */
export async function readSecret(key: Buffer, id: string): Promise<string | null> {
  const row = await prisma().secret.findUnique({ where: { id } });
  return row
    ? open(key, { ciphertext: Buffer.from(row.ciphertext), iv: Buffer.from(row.iv), authTag: Buffer.from(row.authTag), keyId: row.keyId })
    : null;
}
