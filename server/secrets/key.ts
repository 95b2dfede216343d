import { decodeKey, env } from "../env.ts";

/** The operator's 32-byte key (ECM_SECRET_KEY), validated by server/env.ts. */
export function secretKey(): Buffer {
  return decodeKey(env().ECM_SECRET_KEY)!;
}
