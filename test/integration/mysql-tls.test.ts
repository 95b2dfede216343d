// The case the MySQL password guard exists for: TLS that is not verified (ssl_mode require). An
// attacker in the server's place on this machine's non-loopback address speaks TLS with a
// certificate of its own making, then asks for caching_sha2_password's full authentication, which
// mysql2 answers by itself with the password in clear over any TLS. It receives nothing that holds
// the password; with ssl_mode verify-full the client refuses its certificate before signing in.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "../../server/api/root.ts";
import { createContextInner } from "../../server/api/trpc.ts";
import { sourceHealth } from "../../server/sources/connectivity.ts";
import { resetMetadata } from "../support/db.ts";
import { handshake, outward, packet, switchTo } from "../support/mysql-attacker.ts";

const PASSWORD = "the-stored-mysql-password-over-tls";
let key: string;
let cert: string;

/**
 * The attacker: after the client's SSLRequest it speaks TLS (a TLS server of its own, the raw
 * connection piped to it), then switches to caching_sha2 and demands full authentication.
 */
async function tlsCatcher(host: string) {
  const received: Buffer[] = [];
  let messagesOverTls = 0;
  const secureServer = tls.createServer({ key, cert }, (secure) => {
    secure.on("error", () => {});
    const replies = [
      switchTo("caching_sha2_password", 3),
      packet(5, Buffer.from([0x01, 0x04])),
    ];
    secure.on("data", (d) => {
      messagesOverTls++;
      received.push(d);
      const reply = replies.shift();
      if (reply) secure.write(reply);
    });
  });
  await new Promise<void>((r) => secureServer.listen(0, "127.0.0.1", r));
  const securePort = (secureServer.address() as net.AddressInfo).port;
  const server = net.createServer((raw) => {
    raw.on("error", () => {});
    raw.write(handshake("mysql_native_password", { tls: true }));
    raw.once("data", (first) => {
      // The SSLRequest (4 + 32 bytes); anything after it is already the TLS ClientHello.
      raw.pause();
      const upstream = net.connect(securePort, "127.0.0.1", () => {
        if (first.length > 36) upstream.write(first.subarray(36));
        raw.pipe(upstream).pipe(raw);
        raw.resume();
      });
      upstream.on("error", () => raw.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => Buffer.concat(received),
    messagesOverTls: () => messagesOverTls,
    close: () => (server.close(), secureServer.close()),
  };
}

beforeAll(async () => {
  await resetMetadata();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ecm-mysql-attacker-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "a.key", "-out", "a.crt", "-days", "1", "-subj", "/CN=attacker"], { cwd: dir, stdio: "pipe" });
  key = fs.readFileSync(path.join(dir, "a.key"), "utf8");
  cert = fs.readFileSync(path.join(dir, "a.crt"), "utf8");
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The health check of a MySQL source (stored password, this ssl_mode) pointed at the attacker. */
async function healthBehind(attacker: { port: number }, sslMode: "require" | "verify-full") {
  const admin = createCaller(createContextInner({ principal: { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" } }));
  const config = { connector_type: "mysql" as const, connection: { host: outward(), port: attacker.port, database: "shop", ssl_mode: sslMode }, authentication: { type: "credentials" as const, username: "reader", password: PASSWORD }, options: {} };
  const source = await admin.sources.create({ name: `mysql-${sslMode}-tls-${Date.now()}`, config: config as never });
  return sourceHealth(source.id);
}

describe("a MySQL source's stored password over TLS that is not verified", () => {
  it("is never sent when the server behind unverified TLS (ssl_mode require) asks for caching_sha2's full authentication", async () => {
    const attacker = await tlsCatcher(outward());
    try {
      const health = await healthBehind(attacker, "require");
      expect(health.checks[0]).toMatchObject({ name: "authenticated", status: "fail", message: expect.stringMatching(/caching_sha2_password full authentication.*refused, nothing was sent/) });
      // The sign-in did happen over the attacker's TLS (the handshake answer and the scramble token).
      expect(attacker.messagesOverTls()).toBeGreaterThanOrEqual(2);
      expect(attacker.received().includes(Buffer.from(PASSWORD))).toBe(false);
    } finally {
      attacker.close();
    }
  });

  it("refuses the attacker's certificate before signing in at all with ssl_mode verify-full", async () => {
    const attacker = await tlsCatcher(outward());
    try {
      const health = await healthBehind(attacker, "verify-full");
      expect(health.checks[0]).toMatchObject({ name: "tls", status: "fail" });
      expect(attacker.messagesOverTls()).toBe(0);
    } finally {
      attacker.close();
    }
  });
});
