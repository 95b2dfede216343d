// ssl_mode against a PostgreSQL that speaks TLS with a certificate from a test CA
// (made with Debian's openssl): encryption, CA verification and host name verification.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../server/connectors/postgresql/connection.ts";
import { healthCheck } from "../../server/connectors/postgresql/health.ts";
import type { TPostgresConfig } from "../../server/connectors/postgresql/config.ts";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../scripts/lib/embedded-postgres.ts";

let server: EmbeddedPostgres;
let ca: string;
const certDir = fs.mkdtempSync(path.join(os.tmpdir(), "ecm-tls-"));

beforeAll(async () => {
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: certDir, stdio: "pipe" });
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=ECM Test CA");
  ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  fs.writeFileSync(path.join(certDir, "san.ext"), "subjectAltName=DNS:localhost\n");
  ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext");
  ca = fs.readFileSync(path.join(certDir, "ca.crt"), "utf8");
  fs.chmodSync(certDir, 0o755);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
    for (const f of ["server.crt", "server.key"]) fs.chownSync(path.join(certDir, f), uid, gid);
  }
  fs.chmodSync(path.join(certDir, "server.key"), 0o600);
  server = await startEmbeddedPostgres({
    dir: path.resolve(".data/test/pg-tls"),
    port: 54341,
    password: "tls-pw",
    settings: { ssl: "on", ssl_cert_file: path.join(certDir, "server.crt"), ssl_key_file: path.join(certDir, "server.key") },
  });
  process.env.ECM_SOURCE_TLS_PW = "tls-pw";
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(certDir, { recursive: true, force: true });
});

const config = (host: string, mode: TPostgresConfig["connection"]["ssl_mode"], withCa: boolean): TPostgresConfig => ({
  connector_type: "postgresql",
  connection: { host, port: 54341, database: "postgres", ssl_mode: mode, ...(withCa ? { ssl_root_cert: ca } : {}) },
  authentication: { type: "credentials", username: "postgres", password_secret: "env://ECM_SOURCE_TLS_PW" },
  options: { batch_size: 1000, change_tracking: "snapshot" },
});

async function encrypted(cfg: TPostgresConfig): Promise<boolean> {
  const client = await connect(cfg);
  try {
    return (await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows[0].ssl as boolean;
  } finally {
    await client.end();
  }
}

const tlsCheck = async (cfg: TPostgresConfig) => (await healthCheck(cfg, { publication: "p", slot: "s", tables: [], cursors: [] })).checks[0];

describe("ssl_mode", () => {
  it("prefer and require encrypt without checking the certificate", async () => {
    expect(await encrypted(config("127.0.0.1", "prefer", false))).toBe(true);
    expect(await encrypted(config("127.0.0.1", "require", false))).toBe(true);
  });

  it("disable connects in plain text", async () => {
    expect(await encrypted(config("127.0.0.1", "disable", false))).toBe(false);
  });

  it("verify-ca and verify-full refuse a certificate from an untrusted CA", async () => {
    expect(await tlsCheck(config("localhost", "verify-ca", false))).toMatchObject({ name: "tls", status: "fail" });
    expect(await tlsCheck(config("localhost", "verify-full", false))).toMatchObject({ name: "tls", status: "fail" });
  });

  it("verify-ca accepts the trusted CA whatever the host name", async () => {
    expect(await encrypted(config("127.0.0.1", "verify-ca", true))).toBe(true);
  });

  it("verify-full also checks the host name", async () => {
    expect(await encrypted(config("localhost", "verify-full", true))).toBe(true);
    expect(await tlsCheck(config("127.0.0.1", "verify-full", true))).toMatchObject({ name: "tls", status: "fail", message: expect.stringMatching(/127\.0\.0\.1|altnames|IP/i) });
  });
});
