// Console authentication: better-auth with email + password, sessions in the metadata database,
// the admin plugin's `role` field carrying viewer / editor / admin. Public sign-up is off: admins
// create users (server/auth/users.ts); the first admin is created at first start.
import { betterAuth } from "better-auth";
import { prismaAdapter } from "better-auth/adapters/prisma";
import { nextCookies } from "better-auth/next-js";
import { admin } from "better-auth/plugins";
import { prisma } from "../db.ts";
import { baseUrl, env, trustedOrigins } from "../env.ts";
import { deriveKey } from "../secrets/crypto.ts";
import { secretKey } from "../secrets/key.ts";
import { ac, authRoles } from "./access.ts";

function createAuth() {
  const e = env();
  return betterAuth({
    appName: "ECM Connect",
    baseURL: baseUrl(e),
    basePath: "/api/auth",
    secret: deriveKey(secretKey(), "session"),
    trustedOrigins: trustedOrigins(e),
    database: prismaAdapter(prisma(), { provider: "postgresql" }),
    emailAndPassword: { enabled: true, disableSignUp: true, minPasswordLength: 10 },
    // Set for a generated first-admin password: until it is changed the account can do nothing else.
    user: { additionalFields: { mustChangePassword: { type: "boolean", defaultValue: false, input: false } } },
    session: { expiresIn: 60 * 60 * 24 * 7, updateAge: 60 * 60 * 24 },
    rateLimit: {
      enabled: true,
      storage: "database",
      window: 60,
      max: 300,
      customRules: { "/sign-in/email": { window: 60, max: e.ECM_LOGIN_RATE_LIMIT } },
    },
    advanced: {
      // Secure cookies only when served over https; HttpOnly and SameSite=Lax always.
      useSecureCookies: baseUrl(e).startsWith("https://"),
      defaultCookieAttributes: { httpOnly: true, sameSite: "lax" },
      // The web server (scripts/web-server.ts) replaces X-Forwarded-For with the one client address
      // it trusts (the socket's, or what ECM_TRUSTED_PROXIES forwarded), so this header is ours.
      ipAddress: { ipAddressHeaders: ["x-forwarded-for"] },
    },
    // nextCookies must stay last: it forwards Set-Cookie from server actions.
    plugins: [admin({ ac, roles: authRoles, defaultRole: "viewer", adminRoles: ["admin"] }), nextCookies()],
  });
}

type Auth = ReturnType<typeof createAuth>;
const globalForAuth = globalThis as unknown as { ecmAuth?: Auth };

export function auth(): Auth {
  globalForAuth.ecmAuth ??= createAuth();
  return globalForAuth.ecmAuth;
}
