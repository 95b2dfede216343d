// A MySQL source's stored password over a channel that is not verified TLS (docs/security.md, "TLS
// and passwords"): an attacker in the server's place, on this machine's non-loopback address,
// speaking the MySQL protocol without TLS, asks for the password in clear (mysql_clear_password)
// or for caching_sha2_password's full authentication (the password in clear or to a key it
// supplies). It receives nothing that holds the password.
import net from "node:net";
import { beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "../../server/api/root.ts";
import { createContextInner } from "../../server/api/trpc.ts";
import { sourceHealth } from "../../server/sources/connectivity.ts";
import { resetMetadata } from "../support/db.ts";
import { handshake, outward, packet, switchTo } from "../support/mysql-attacker.ts";

const PASSWORD = "the-stored-mysql-password";

/** The attacker: answers the client's n-th message with `then[n]`, records every byte it is sent. */
async function catcher(host: string, plugin: string, then: Buffer[]) {
  const received: Buffer[] = [];
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.on("error", () => {});
    socket.write(handshake(plugin));
    let step = 0;
    socket.on("data", (d) => {
      received.push(d);
      const reply = then[step++];
      if (reply) socket.write(reply);
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => Buffer.concat(received),
    connections: () => connections,
    close: () => server.close(),
  };
}

beforeAll(async () => {
  await resetMetadata();
});

describe("a MySQL source's stored password", () => {
  const cases = [
    { name: "asked in clear (mysql_clear_password, by an auth switch)", plugin: "mysql_native_password", then: [switchTo("mysql_clear_password")] },
    // The fast path's token (a scramble, not the password) is answered; full authentication is not.
    { name: "asked for caching_sha2_password's full authentication", plugin: "mysql_native_password", then: [switchTo("caching_sha2_password"), packet(4, Buffer.from([0x01, 0x04]))] },
    { name: "asked for sha256_password", plugin: "mysql_native_password", then: [switchTo("sha256_password")] },
  ];
  for (const c of cases) {
    it(`is never sent when ${c.name} by a server without TLS on a non-loopback address`, async () => {
      const host = outward();
      const attacker = await catcher(host, c.plugin, c.then);
      try {
        const admin = createCaller(createContextInner({ principal: { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" } }));
        const config = { connector_type: "mysql" as const, connection: { host, port: attacker.port, database: "shop", ssl_mode: "prefer" as const }, authentication: { type: "credentials" as const, username: "reader", password: PASSWORD }, options: {} };
        const source = await admin.sources.create({ name: `mysql-tls-${c.plugin}-${Date.now()}`, config: config as never });
        const health = await sourceHealth(source.id);
        expect(health.checks[0]).toMatchObject({ name: "authenticated", status: "fail", message: expect.stringMatching(/asked for the password .* refused, nothing was sent/), hint: expect.stringMatching(/verify-full/) });
        expect(attacker.connections()).toBeGreaterThan(0);
        expect(attacker.received().includes(Buffer.from(PASSWORD))).toBe(false);
      } finally {
        attacker.close();
      }
    });
  }
});
