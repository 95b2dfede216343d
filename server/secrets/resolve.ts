// Resolves a secret reference to its value, in the process that connects and only there. The
// operator decides what a reference may reach: an editor could otherwise point a source at a host
// of theirs with password_secret=env://DATABASE_URL and read the product's own credentials.
//   env://NAME           only names matching ECM_SECRET_ENV_ALLOW (default ECM_SOURCE_*)
//   file:///path         only files under a directory in ECM_SECRET_FILE_ALLOW (default: none)
//   vault://mount/path#key   HashiCorp Vault KV v2 at VAULT_ADDR with VAULT_TOKEN; without
//                        #key the last path segment is the key (vault://db/postgres/password)
//   secret://<id>        a value typed into the console, decrypted with ECM_SECRET_KEY
import fs from "node:fs";
import path from "node:path";
import { AppError } from "../errors/app-error.ts";
import { own } from "../json/safe.ts";
import { readSecret } from "../store/secrets.ts";
import type { ConnectionIdentity } from "./binding.ts";
import { secretKey } from "./key.ts";
import { secretScheme, storedSecretId } from "./references.ts";

export type SecretPolicy = { envAllow: string[]; fileAllow: string[]; vaultAddr?: string; vaultToken?: string };

const list = (v: string | undefined) =>
  (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

export function secretPolicyFromEnv(e: Record<string, string | undefined> = process.env): SecretPolicy {
  return {
    envAllow: e.ECM_SECRET_ENV_ALLOW !== undefined ? list(e.ECM_SECRET_ENV_ALLOW) : ["ECM_SOURCE_*"],
    fileAllow: list(e.ECM_SECRET_FILE_ALLOW).map((d) => path.resolve(d)),
    vaultAddr: e.VAULT_ADDR || undefined,
    vaultToken: e.VAULT_TOKEN || undefined,
  };
}

const config = (message: string, field: string) =>
  new AppError("BAD_REQUEST", message, { category: "CONFIGURATION", issues: [{ path: field, message }] });

function globMatch(pattern: string, name: string) {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** `connection`: where the value will be sent; a stored secret (secret://) resolves only for the connection it is bound to. */
export async function resolveSecret(reference: string, field: string, connection: ConnectionIdentity, policy: SecretPolicy = secretPolicyFromEnv()): Promise<string> {
  switch (secretScheme(reference)) {
    case "env": {
      const name = reference.slice("env://".length);
      if (!policy.envAllow.some((p) => globMatch(p, name))) {
        throw config(`env://${name} is not allowed; the operator allows ${policy.envAllow.join(", ") || "no variables"} (ECM_SECRET_ENV_ALLOW)`, field);
      }
      const value = own<string>(process.env, name);
      if (value === undefined) throw config(`environment variable ${name} is not set in the process that connects (web and workers)`, field);
      return value;
    }
    case "file": {
      const file = decodeURIComponent(reference.slice("file://".length));
      let real: string;
      try {
        real = fs.realpathSync(file);
      } catch {
        throw config(`secret file ${file} does not exist or cannot be read`, field);
      }
      if (!policy.fileAllow.some((dir) => real === dir || real.startsWith(dir + path.sep))) {
        throw config(`${file} is outside the directories allowed for secret files (ECM_SECRET_FILE_ALLOW)`, field);
      }
      return fs.readFileSync(real, "utf8").replace(/\r?\n$/, "");
    }
    case "vault":
      return readVault(reference, field, policy);
    case "secret": {
      const secret = await readSecret(secretKey(), storedSecretId(reference)!, connection);
      if (secret === null) throw config(`stored secret ${reference} no longer exists; enter the password again`, field);
      if ("mismatch" in secret) {
        throw config(
          `the stored password was typed for another connection (${secret.mismatch.join(", ") || "unknown"} differ); type the password again for this one`,
          field,
        );
      }
      return secret.value;
    }
    default:
      throw config("not a secret reference", field);
  }
}

async function readVault(reference: string, field: string, policy: SecretPolicy): Promise<string> {
  if (!policy.vaultAddr || !policy.vaultToken) throw config("vault:// references need VAULT_ADDR and VAULT_TOKEN set for the product", field);
  const [location, explicitKey] = reference.slice("vault://".length).split("#") as [string, string | undefined];
  const segments = location.split("/").filter(Boolean);
  const key = explicitKey ?? segments.pop();
  const [mount, ...rest] = segments;
  if (!mount || !rest.length || !key) throw config("vault reference must look like vault://<mount>/<path>#<key> or vault://<mount>/<path>/<key>", field);
  const url = `${policy.vaultAddr.replace(/\/$/, "")}/v1/${mount}/data/${rest.map(encodeURIComponent).join("/")}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { "X-Vault-Token": policy.vaultToken }, signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new AppError("SERVICE_UNAVAILABLE", `Vault at ${policy.vaultAddr} did not answer: ${(e as Error).message}`, { category: "TRANSIENT" });
  }
  if (res.status === 404) throw config(`Vault has no secret at ${mount}/${rest.join("/")}`, field);
  if (res.status === 403) throw config(`VAULT_TOKEN may not read ${mount}/${rest.join("/")}`, field);
  if (!res.ok) throw new AppError("SERVICE_UNAVAILABLE", `Vault answered ${res.status}`, { category: "TRANSIENT" });
  const body = (await res.json()) as { data?: { data?: Record<string, unknown> } };
  const value = own(body.data?.data, key);
  if (typeof value !== "string") throw config(`Vault secret ${mount}/${rest.join("/")} has no string key "${key}"`, field);
  return value;
}
