import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveKey, open, seal } from "./crypto.ts";

const key = crypto.randomBytes(32);

describe("AES-256-GCM secret sealing", () => {
  it("round-trips any UTF-8 value and never stores the plaintext", () => {
    const value = "pä$$wörd 🔑 with spaces";
    const sealed = seal(key, value);
    expect(sealed.ciphertext.toString("utf8")).not.toContain("wörd");
    expect(open(key, sealed)).toBe(value);
  });

  it("uses a fresh IV each time, so equal secrets do not look equal", () => {
    const a = seal(key, "same");
    const b = seal(key, "same");
    expect(a.iv.equals(b.iv)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it("says clearly when another key encrypted the secret", () => {
    const sealed = seal(key, "x");
    expect(() => open(crypto.randomBytes(32), sealed)).toThrow(/another ECM_SECRET_KEY/);
  });

  it("detects a tampered ciphertext", () => {
    const sealed = seal(key, "secret value");
    sealed.ciphertext[0] = sealed.ciphertext[0]! ^ 0xff;
    expect(() => open(key, sealed)).toThrow();
  });

  it("derives distinct, stable keys per purpose", () => {
    expect(deriveKey(key, "session")).toBe(deriveKey(key, "session"));
    expect(deriveKey(key, "session")).not.toBe(deriveKey(key, "other"));
  });
});
