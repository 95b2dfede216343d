// AES-256-GCM for secrets typed into the console. The key is ECM_SECRET_KEY (32 bytes); each value
// gets a fresh 96-bit IV; the auth tag makes tampering and a wrong key detectable.
import crypto from "node:crypto";

export type Sealed = { ciphertext: Buffer; iv: Buffer; authTag: Buffer; keyId: string };

export function keyId(key: Buffer): string {
  return crypto.createHash("sha256").update(key).digest("hex").slice(0, 12);
}

export function seal(key: Buffer, plaintext: string): Sealed {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return { ciphertext, iv, authTag: cipher.getAuthTag(), keyId: keyId(key) };
}

export function open(key: Buffer, sealed: Sealed): string {
  if (sealed.keyId !== keyId(key)) {
    throw new Error(
      `secret was encrypted with another ECM_SECRET_KEY (key id ${sealed.keyId}, current ${keyId(key)}); ` +
        "restore the original key or re-enter the secret",
    );
  }
  const decipher = crypto.createDecipheriv("aes-256-gcm", key, sealed.iv);
  decipher.setAuthTag(sealed.authTag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString("utf8");
}

/** Derives a purpose-specific key (e.g. session signing) so one operator secret serves several uses. */
export function deriveKey(key: Buffer, purpose: string): string {
  return Buffer.from(crypto.hkdfSync("sha256", key, Buffer.alloc(0), `ecm-connect:${purpose}`, 32)).toString("base64");
}
