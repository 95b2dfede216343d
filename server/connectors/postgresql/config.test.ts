import { describe, expect, it } from "vitest";
import { formatPath } from "../../errors/app-error.ts";
import { ZConnectorConfig } from "../registry.ts";

const SPEC_EXAMPLE = {
  connector_type: "postgresql",
  connection: { host: "db.example.com", port: 5432, database: "production", ssl_mode: "require" },
  authentication: { type: "credentials", username: "ecm_reader", password_secret: "vault://db/postgres/password" },
  options: { batch_size: 1000, change_tracking: "cdc" },
};

function issues(input: unknown) {
  const r = ZConnectorConfig.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${formatPath(i.path)}: ${i.code}`);
}

describe("PostgreSQL connection config (the spec's format)", () => {
  it("accepts the specification's example exactly as written", () => {
    expect(ZConnectorConfig.parse(SPEC_EXAMPLE)).toEqual(SPEC_EXAMPLE);
  });

  it("fills the documented defaults: port 5432, ssl_mode prefer, batch_size 1000, cdc", () => {
    const parsed = ZConnectorConfig.parse({
      connector_type: "postgresql",
      connection: { host: "h", database: "d" },
      authentication: { type: "credentials", username: "u" },
    });
    expect(parsed.connection).toEqual({ host: "h", port: 5432, database: "d", ssl_mode: "prefer" });
    expect(parsed.options).toEqual({ batch_size: 1000, change_tracking: "cdc" });
    expect(parsed.authentication.password_secret).toBeUndefined(); // optional (trust / certificate auth)
  });

  it("names the field path of every problem", () => {
    expect(
      issues({
        ...SPEC_EXAMPLE,
        connection: { host: "", port: "5432", database: "production", ssl_mode: "sometimes" },
        options: { batch_size: 0 },
      }),
    ).toEqual([
      "connection.host: too_small",
      "connection.port: invalid_type",
      "connection.ssl_mode: invalid_value",
      "options.batch_size: too_small",
    ]);
  });

  it("rejects misspelt keys instead of ignoring them", () => {
    expect(issues({ ...SPEC_EXAMPLE, connection: { ...SPEC_EXAMPLE.connection, hots: "x" } })).toEqual(["connection: unrecognized_keys"]);
  });

  it("rejects an unknown connector type at connector_type", () => {
    expect(issues({ ...SPEC_EXAMPLE, connector_type: "oracle" })).toEqual(["connector_type: invalid_union"]);
  });

  it("accepts only secret references in password_secret", () => {
    for (const ref of ["vault://db/postgres/password", "vault://kv/pg#password", "env://PG_PASSWORD", "file:///run/secrets/pg", "secret://0f8fad5b-d9cb-469f-a165-70867728950e"]) {
      expect(issues({ ...SPEC_EXAMPLE, authentication: { ...SPEC_EXAMPLE.authentication, password_secret: ref } })).toEqual([]);
    }
    for (const notRef of ["hunter2", "vualt://x", "env://1BAD", "secret://not-a-uuid", "file://relative"]) {
      expect(issues({ ...SPEC_EXAMPLE, authentication: { ...SPEC_EXAMPLE.authentication, password_secret: notRef } })).toEqual([
        "authentication.password_secret: custom",
      ]);
    }
  });

  it("refuses a typed password together with a reference", () => {
    expect(issues({ ...SPEC_EXAMPLE, authentication: { ...SPEC_EXAMPLE.authentication, password: "pw" } })).toEqual([
      "authentication.password: custom",
    ]);
  });
});
