import { describe, expect, it } from "vitest";
import { redact } from "./redact.ts";

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
