// The ecm command's own safety rules (second security pass, finding 5): the token never on the
// command line, never in clear to another machine, the source's control characters never obeyed by
// the terminal, and a connection change shown before it is made.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { auditTable, clean, connectionChanges, EXIT, morePages, parse } from "./ecm.ts";

const env = { ECM_TOKEN: "ecm_from_env" };
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e as { message: string; code: number };
  }
  throw new Error("not refused");
};

describe("ecm's token and address", () => {
  it("refuses a token on the command line, and reads one from the environment, a file or standard input", () => {
    expect(refusal(() => parse(["--token", "ecm_secret", "sources", "list"], { env: {} }))).toMatchObject({ code: EXIT.usage, message: expect.stringMatching(/visible to every user/) });
    expect(refusal(() => parse(["--token=ecm_secret", "sources", "list"], { env: {} })).code).toBe(EXIT.usage);
    expect(parse(["sources", "list"], { env }).token).toBe("ecm_from_env");
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ecm-cli-")), "token");
    fs.writeFileSync(file, "ecm_from_file\n", { mode: 0o600 });
    expect(parse(["--token-file", file, "sources", "list"], { env: {} }).token).toBe("ecm_from_file");
    expect(parse(["--token-stdin", "sources", "list"], { env: {}, stdin: () => "ecm_from_stdin\n" }).token).toBe("ecm_from_stdin");
  });

  it("sends the token over plain http only to this machine", () => {
    for (const url of ["http://localhost:3000", "http://127.0.0.1:3000/", "http://[::1]:3000", "https://ecm.example.com"]) expect(parse(["sources", "list"], { env: { ...env, ECM_URL: url } }).url).toBe(url.replace(/\/$/, ""));
    for (const url of ["http://ecm.example.com", "http://10.0.0.5:3000", "http://127.example.com"]) {
      expect(refusal(() => parse(["sources", "list"], { env: { ...env, ECM_URL: url } }))).toMatchObject({ code: EXIT.usage, message: expect.stringMatching(/in clear/) });
    }
  });
});

describe("ecm's output", () => {
  it("shows control characters from the source instead of letting the terminal obey them", () => {
    expect(clean("entity\u001b[2J\u0007name\r")).toBe("entity\\u001b[2J\\u0007name\\u000d");
    expect(clean("two\nlines")).toBe("two\nlines");
  });

  it("names every change to where a source connects and as whom", () => {
    const before = { connector_type: "postgresql", connection: { host: "db-a", port: 5432, database: "shop" }, authentication: { type: "credentials", username: "u", password_secret: "env://A" }, options: { batch_size: 1000 } };
    const after = { ...before, connection: { ...before.connection, host: "attacker.example" }, authentication: { ...before.authentication, password_secret: "env://B" }, options: { batch_size: 5 } };
    expect(connectionChanges(before, after)).toEqual(['connection.host: "db-a" → "attacker.example"', 'authentication.password_secret: "env://A" → "env://B"']);
    expect(connectionChanges(before, before)).toEqual([]);
    // A typed password is a change of credentials, never printed.
    const typed = { ...before, authentication: { type: "credentials", username: "u", password: "hunter2" } };
    const lines = connectionChanges(before, typed);
    expect(lines.join("\n")).not.toContain("hunter2");
    expect(lines).toContain("authentication.password: — → (a value, not shown)");
  });
});

describe("ecm audit", () => {
  it("shows who (and for whom a token acts), from where and what, one line each", () => {
    const text = auditTable([
      { at: "2026-12-07T01:00:00.000Z", actor: { name: "ci", owner: { name: "ana@example.com" } }, client_address: "198.51.100.7", action: "mapping.save", target: { kind: "mapping_version", id: "3" } },
      { at: "2026-12-07T00:59:00.000Z", actor: { name: "ana@example.com", owner: null }, client_address: null, action: "token.create", target: { kind: "token", id: "t1" } },
    ]);
    expect(text.split("\n")).toEqual([
      expect.stringMatching(/^AT\s+WHO\s+FROM\s+ACTION\s+TARGET$/),
      expect.stringMatching(/ci \(for ana@example.com\)\s+198\.51\.100\.7\s+mapping\.save\s+mapping_version 3$/),
      expect.stringMatching(/ana@example.com\s+—\s+token\.create\s+token t1$/),
    ]);
    expect(auditTable([])).toBe("no audit entries");
  });

  it("says how to read the next page, and nothing on the last one", () => {
    expect(morePages("1234")).toBe("\nmore: the same command with --cursor 1234");
    expect(morePages(null)).toBe("");
    expect(parse(["audit", "--cursor", "1234"], { env: { ECM_TOKEN: "t" } }).flags.get("--cursor")).toEqual(["1234"]);
  });
});
