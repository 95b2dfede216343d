// A password typed into the console is bound to the connection it was typed for (the connector's
// connectionIdentity: host, port, database, user, TLS settings). It is decrypted only to connect
// to exactly that connection, so no edit of a source, draft test or copied config can send it to
// a server of someone else's choosing.
export type ConnectionIdentity = Record<string, string | number | null>;

/** Key-order-independent text of an identity, for comparison. */
export function canonicalIdentity(identity: unknown): string {
  if (identity === null || typeof identity !== "object" || Array.isArray(identity)) return "null";
  const entries = Object.entries(identity as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(entries);
}

export const sameConnection = (a: unknown, b: unknown) => canonicalIdentity(a) !== "null" && canonicalIdentity(a) === canonicalIdentity(b);

/** The names of the identity fields that differ (for the message that asks for the password again). */
export function changedFields(bound: unknown, now: ConnectionIdentity): string[] {
  const was = bound && typeof bound === "object" ? (bound as Record<string, unknown>) : {};
  return Object.keys(now).filter((k) => JSON.stringify(Object.hasOwn(was, k) ? was[k] : undefined) !== JSON.stringify(now[k]));
}
