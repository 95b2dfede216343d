import { afterEach, describe, expect, it } from "vitest";
import { addLogSink, logger, redact } from "./logger.ts";

describe("log redaction", () => {
  let remove: (() => void) | undefined;
  afterEach(() => remove?.());

  it("redacts values of secret-looking fields at any depth", () => {
    expect(
      redact({ authentication: { username: "u", password: "hunter2" }, headers: { authorization: "Bearer abc" }, token: "t", api_key: "k" }),
    ).toEqual({ authentication: { username: "u", password: "[redacted]" }, headers: { authorization: "[redacted]" }, token: "[redacted]", api_key: "[redacted]" });
  });

  it("keeps secret references, which are safe and useful to see", () => {
    expect(redact({ password_secret: "vault://db/pg#password" })).toEqual({ password_secret: "vault://db/pg#password" });
    expect(redact({ password_secret: "plain-value" })).toEqual({ password_secret: "[redacted]" });
  });

  it("writes redacted JSON lines to every sink", () => {
    const lines: string[] = [];
    remove = addLogSink((l) => lines.push(l));
    logger("test").warn("connecting", { config: { authentication: { password: "canary-123" } } });
    const line = lines.find((l) => l.includes("connecting"))!;
    expect(line).not.toContain("canary-123");
    expect(JSON.parse(line)).toMatchObject({ level: "warn", component: "test", config: { authentication: { password: "[redacted]" } } });
  });
});
