import { describe, expect, it } from "vitest";
import { EnvError, parseEnv } from "./env.ts";

const KEY = Buffer.alloc(32, 7).toString("base64");

describe("environment validation", () => {
  it("applies defaults for everything optional", () => {
    const env = parseEnv({ DATABASE_URL: "postgresql://u@h/db", ECM_SECRET_KEY: KEY });
    expect(env).toMatchObject({ PORT: 3000, REDIS_URL: "redis://127.0.0.1:6379", ECM_DATA_DIR: ".data", ECM_WORKER_CONCURRENCY: 4 });
  });

  it("names each bad variable and what it must be", () => {
    try {
      parseEnv({ DATABASE_URL: "localhost", ECM_SECRET_KEY: "short", PORT: "http", ECM_API_TOKEN: "abc" });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EnvError);
      const msg = (e as Error).message;
      expect(msg).toMatch(/DATABASE_URL: must be a URL/);
      expect(msg).toMatch(/ECM_SECRET_KEY: must be 32 bytes/);
      expect(msg).toMatch(/PORT:/);
      expect(msg).toMatch(/ECM_API_TOKEN: must be at least 16 characters/);
    }
  });

  it("treats empty variables as unset (a copied .env.example works)", () => {
    expect(parseEnv({ DATABASE_URL: "postgresql://u@h/db", ECM_SECRET_KEY: KEY, ECM_API_TOKEN: "", PORT: "" }).ECM_API_TOKEN).toBeUndefined();
  });
});
