import { describe, expect, it } from "vitest";
import { isSecretName, redact, SECRET_FIELDS } from "./redact.ts";

describe("payload redaction by name", () => {
  it("redacts values of secret-looking fields at any depth", () => {
    expect(
      redact({ authentication: { username: "u", password: "hunter2" }, headers: { authorization: "Bearer abc" }, token: "t", api_key: "k" }),
    ).toEqual({ authentication: { username: "u", password: "[redacted]" }, headers: { authorization: "[redacted]" }, token: "[redacted]", api_key: "[redacted]" });
  });

  it("redacts a column whose name only contains a secret word", () => {
    expect(redact({ id: 1, user_password_hash: "x", rows: [{ reset_token: "y" }] })).toEqual({ id: 1, user_password_hash: "[redacted]", rows: [{ reset_token: "[redacted]" }] });
  });

  it("keeps secret references, which are safe and useful to see", () => {
    expect(redact({ password_secret: "vault://db/pg#password" })).toEqual({ password_secret: "vault://db/pg#password" });
    expect(redact({ password_secret: "plain-value" })).toEqual({ password_secret: "[redacted]" });
  });
});

describe("one list of secret names, whole values (second pass, finding 4)", () => {
  it("takes every field the logger redacts as a secret name", () => {
    for (const field of SECRET_FIELDS) expect(isSecretName(field), field).toBe(true);
  });

  it("replaces values of any type under a secret-looking name, not only strings", () => {
    expect(redact({ pin_token: 123456, api_key: { id: "k1", value: "v" }, backup_passwords: ["a", "b"], private_flag: true, note: "fine", secret_ref: null })).toEqual({
      pin_token: "[redacted]",
      api_key: "[redacted]",
      backup_passwords: "[redacted]",
      private_flag: "[redacted]",
      note: "fine",
      secret_ref: null,
    });
    expect(redact({ db_credentials: { user: "u" }, connection_string: "postgres://u:p@h/db" })).toEqual({ db_credentials: "[redacted]", connection_string: "[redacted]" });
  });
});
