// The console's web server: Next.js behind a small node:http front that settles, once, what every
// route may believe about the request. X-Forwarded-For is replaced by the one client address this
// server trusts (server/http/client-address.ts), so the sign-in rate limit cannot be dodged by
// rotating the header; an API body announced larger than ECM_MAX_BODY_BYTES is refused before a
// byte of it is read (chunked bodies are bounded by the API handlers as they read).
import http from "node:http";
import next from "next";
import { clientAddress, trustedProxiesFrom } from "../server/http/client-address.ts";
import { parseEnv } from "../server/env.ts";

const dev = process.argv.includes("--dev");
const env = parseEnv(process.env);
const proxies = trustedProxiesFrom(env.ECM_TRUSTED_PROXIES);

const app = next({ dev, dir: process.cwd(), port: env.PORT });
const handle = app.getRequestHandler();
await app.prepare();

const server = http.createServer((req, res) => {
  req.headers["x-forwarded-for"] = clientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"], proxies);
  // Every path (an absolute-form request target cannot slip past); chunked bodies are bounded by
  // the handlers as they read them.
  if (Number(req.headers["content-length"] ?? 0) > env.ECM_MAX_BODY_BYTES) {
    res.writeHead(413, { "content-type": "application/json", connection: "close" });
    res.end(JSON.stringify({ error: { code: "PAYLOAD_TOO_LARGE", message: `request body larger than ${env.ECM_MAX_BODY_BYTES} bytes (ECM_MAX_BODY_BYTES)` } }));
    return;
  }
  void handle(req, res);
});
server.listen(env.PORT, () => console.log(`[web] ready on port ${env.PORT}${dev ? " (development)" : ""}`));

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
