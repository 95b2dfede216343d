// A web process for tests that need more than one (scale-out): the public API served over HTTP by
// the same handler Next serves /api/v1 with, in a process of its own (its own pools, its own Redis
// connections). It prints `{"port": N}` once it listens. The console's pages are not served: the
// e2e tests drive those through Next itself.
import http from "node:http";
import { handleApiRequest } from "../../../server/http/handler.ts";

const server = http.createServer(async (req, res) => {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
    const response = await handleApiRequest(
      new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined }),
    );
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (e) {
    res.writeHead(500, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { code: "INTERNAL", message: String(e) } }));
  }
});
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
