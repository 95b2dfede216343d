// What the product keeps under ECM_DATA_DIR besides the databases: generated credentials for the
// embedded servers and, when ECM_SECRET_KEY is unset, the secret key (created once, mode 0600).
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export type LocalState = { pgPort: number; pgPassword: string; redisPort: number; redisPassword?: string; demoCreated?: boolean; demoWriterPassword?: string };

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function freePort(preferred: number): Promise<number> {
  if (await isFree(preferred)) return preferred;
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export async function loadState(dataDir: string): Promise<LocalState> {
  const file = path.join(dataDir, "state.json");
  if (fs.existsSync(file)) {
    const state = JSON.parse(fs.readFileSync(file, "utf8")) as LocalState;
    if (!state.redisPassword) {
      // Data dirs from before Redis had a password get one now.
      state.redisPassword = crypto.randomBytes(18).toString("base64url");
      saveState(dataDir, state);
    }
    return state;
  }
  const state: LocalState = {
    pgPort: await freePort(54329),
    pgPassword: crypto.randomBytes(18).toString("base64url"),
    redisPort: await freePort(6390),
    redisPassword: crypto.randomBytes(18).toString("base64url"),
  };
  saveState(dataDir, state);
  return state;
}

export function saveState(dataDir: string, state: LocalState) {
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(path.join(dataDir, "state.json"), JSON.stringify(state, null, 2), { mode: 0o600 });
}

export function loadOrCreateSecretKey(dataDir: string): string {
  const file = path.join(dataDir, "secret.key");
  if (fs.existsSync(file)) return fs.readFileSync(file, "utf8").trim();
  const key = crypto.randomBytes(32).toString("base64");
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, key + "\n", { mode: 0o600 });
  return key;
}
