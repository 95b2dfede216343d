// A TCP proxy in front of a test server that a test can take down (connections cut, new ones
// refused) and bring back, as a network outage would; or stall (nothing forwarded either way, no
// reset, closes held back), as a half-open connection looks to both ends.
import net from "node:net";

type Pair = { client: net.Socket; upstream: net.Socket };

export function tcpProxy(target: { host: string; port: number }) {
  const pairs = new Set<Pair>();
  let server: net.Server | null = null;
  let port = 0;
  let stalled = false;
  let heldCloses: (() => void)[] = [];
  const forward = ({ client, upstream }: Pair) => {
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const hold = ({ client, upstream }: Pair) => {
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = net.createServer((client) => {
        const pair = { client, upstream: net.connect(target.port, target.host) };
        pairs.add(pair);
        for (const [s, other] of [
          [pair.client, pair.upstream],
          [pair.upstream, pair.client],
        ] as const) {
          s.on("error", () => {});
          // A close crosses the proxy only while it forwards (a stalled link tells the other end nothing).
          s.on("close", () => {
            pairs.delete(pair);
            if (stalled) heldCloses.push(() => other.destroy());
            else other.destroy();
          });
        }
        if (stalled) hold(pair);
        else forward(pair);
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server!.off("error", reject);
        resolve();
      });
    });
  // The port is chosen once, below Linux's ephemeral range (32768–60999): while the proxy is down,
  // some client connection's local end could otherwise take it, and up() would find it in use.
  const listenFirst = async () => {
    for (let tries = 0; ; tries++) {
      port = 20_000 + Math.floor(Math.random() * 12_000);
      try {
        return await listen();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE" || tries >= 20) throw e;
      }
    }
  };
  return {
    listen: listenFirst,
    get port() {
      return port;
    },
    down: async () => {
      await new Promise<void>((resolve) => {
        server?.close(() => resolve());
        for (const { client, upstream } of pairs) {
          client.destroy();
          upstream.destroy();
        }
      });
      server = null;
    },
    up: listen,
    /** Nothing crosses any connection, old or new, until resume(); nobody is told. */
    stall: () => {
      stalled = true;
      for (const p of pairs) hold(p);
    },
    resume: () => {
      stalled = false;
      for (const p of pairs) forward(p);
      for (const close of heldCloses) close();
      heldCloses = [];
    },
  };
}
