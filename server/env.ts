// The product's configuration, read and validated once per process. Every variable is listed in
// .env.example. A bad value is a message naming the variable and what to do, not a stack trace.
import { z } from "zod";

const ZUrl = (what: string) =>
  z.string().regex(/^[a-z][a-z0-9+.-]*:\/\//i, `must be a URL (${what})`);

export const ZEnv = z.object({
  DATABASE_URL: ZUrl("postgresql://user:password@host:5432/db"),
  REDIS_URL: ZUrl("redis://host:6379").default("redis://127.0.0.1:6379"),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  ECM_DATA_DIR: z.string().default(".data"),
  ECM_BASE_URL: z.string().optional(),
  // 32 bytes, base64 or hex. Encrypts secrets typed into the console and signs sessions.
  ECM_SECRET_KEY: z.string().refine((v) => decodeKey(v) !== null, "must be 32 bytes as base64 (44 chars) or hex (64 chars)"),
  ECM_API_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  ECM_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  ECM_LOG_FORMAT: z.enum(["json", "pretty"]).optional(),
  ECM_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  // Snapshot chunks of one entity committing at once, each on its own store session (the store
  // absorbs more in two sessions than in one: docs/operations.md, "Performance").
  ECM_SNAPSHOT_COMMITS_IN_FLIGHT: z.coerce.number().int().min(1).max(8).default(2),
  // Rows of a snapshot committed in one transaction (pages of batch_size rows read are grouped up
  // to this; a crash redoes the chunks in flight and the one being read, docs/lifecycle.md).
  ECM_SNAPSHOT_COMMIT_ROWS: z.coerce.number().int().min(1).max(100_000).default(5000),
  // Incremental sync: added to the oldest open transaction's age when a run decides its lag (docs/incremental.md).
  ECM_INCREMENTAL_LAG_MARGIN_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  // The audit trail keeps entries this many days (docs/audit.md); the supervisor removes older ones.
  ECM_AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(400),
  // Secret salt of the sha256 mapping transform (PII hashing). Unset: sha256 mappings are refused.
  ECM_HASH_SALT: z.string().min(16, "must be at least 16 characters").optional(),
  // Rate limit for sign-in: attempts per minute per client address.
  ECM_LOGIN_RATE_LIMIT: z.coerce.number().int().min(1).default(10),
  // Failed sign-ins per account within 15 minutes before that account's sign-in answers 429.
  ECM_LOGIN_ACCOUNT_LIMIT: z.coerce.number().int().min(1).default(10),
  // Draft connection tests (a config not saved yet) per caller per minute, across web processes:
  // each opens a connection to an address the caller chose (a port scan, password guessing).
  ECM_DRAFT_TEST_LIMIT: z.coerce.number().int().min(1).default(20),
  // Interactive connector calls (health, discovery, previews, read operations) in flight to one
  // source from one web process; beyond it 429 with Retry-After.
  ECM_SOURCE_SESSIONS: z.coerce.number().int().min(1).max(100).default(4),
  // Proxies (comma-separated IPs or CIDRs) whose X-Forwarded-For is believed. Unset: none, and the
  // client address is the connecting socket's.
  ECM_TRUSTED_PROXIES: z.string().optional(),
  // Largest request body the API reads (bytes); larger ones are answered 413 before being read.
  ECM_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  // A stream owner's lease: renewed every second, taken over by another worker this long after its owner died.
  ECM_STREAM_LEASE_SECONDS: z.coerce.number().int().min(3).max(600).default(20),
  // TRANSIENT retries (the spec: initial 1 s, factor 2, at most 5 minutes; with ±20 % jitter).
  ECM_RETRY_INITIAL_MS: z.coerce.number().int().min(10).default(1000),
  ECM_RETRY_MAX_MS: z.coerce.number().int().min(10).default(300_000),
  // Alerts (CONFIGURATION and FATAL) are POSTed here as JSON, signed with HMAC-SHA256 of the body.
  ECM_ALERT_WEBHOOK_URL: ZUrl("https://hooks.example.com/ecm").optional(),
  ECM_ALERT_WEBHOOK_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  // The demo (embedded defaults): mapped, snapshotted and streaming on first start unless "off";
  // the worker's demo writer runs unless "off", one tick every ECM_DEMO_WRITER_MS.
  ECM_DEMO_LIVE: z.enum(["on", "off"]).default("on"),
  ECM_DEMO_WRITER: z.enum(["on", "off"]).default("on"),
  ECM_DEMO_WRITER_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
  // A database index on a shared local Redis (two installations on one machine).
  ECM_REDIS_DB: z.coerce.number().int().min(0).max(15).optional(),
  ECM_METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  ECM_METRICS: z.enum(["on", "off"]).default("on"),
});
export type TEnv = z.infer<typeof ZEnv>;

export function decodeKey(value: string): Buffer | null {
  const buf = /^[0-9a-f]{64}$/i.test(value) ? Buffer.from(value, "hex") : Buffer.from(value, "base64");
  return buf.length === 32 ? buf : null;
}

export class EnvError extends Error {}

export function parseEnv(source: Record<string, string | undefined>): TEnv {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== ""));
  const result = ZEnv.safeParse(cleaned);
  // Null-prototype and frozen: an unset variable reads as undefined whatever happens to
  // Object.prototype, and nothing can change the configuration after it was read.
  if (result.success) return Object.freeze(Object.assign(Object.create(null) as TEnv, result.data));
  const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
  throw new EnvError(`Invalid environment (see .env.example):\n${lines.join("\n")}`);
}

let cached: TEnv | undefined;
export function env(): TEnv {
  cached ??= parseEnv(process.env);
  return cached;
}

/** Reads process.env again on the next env() (tests that rotate a variable, as an operator would on a restart). */
export function reloadEnv() {
  cached = undefined;
}

export function baseUrl(e: TEnv = env()): string {
  return e.ECM_BASE_URL ?? `http://localhost:${e.PORT}`;
}

/** Origins the console is served from: requests carrying a session cookie must come from one. */
export function trustedOrigins(e: TEnv = env()): string[] {
  return [...new Set([new URL(baseUrl(e)).origin, `http://127.0.0.1:${e.PORT}`, `http://localhost:${e.PORT}`])];
}
