// The address a request came from, for sign-in rate limits and logs. X-Forwarded-For is written by
// whoever sends the request, so it is believed only from proxies the operator trusts
// (ECM_TRUSTED_PROXIES): walking it from the right, the first address that is not a trusted proxy
// is the client. With no trusted proxy the client is the connecting socket, whatever the header says.
import net from "node:net";
import { blockList } from "../connectors/host-policy.ts";

export type TrustedProxies = net.BlockList | null;

export function trustedProxiesFrom(value: string | undefined): TrustedProxies {
  const cidrs = (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return cidrs.length ? blockList(cidrs, "ECM_TRUSTED_PROXIES") : null;
}

/** IPv4 clients of a dual-stack socket arrive as ::ffff:a.b.c.d. */
const plain = (address: string) => (address.startsWith("::ffff:") && net.isIPv4(address.slice(7)) ? address.slice(7) : address);

const trusted = (proxies: TrustedProxies, address: string) =>
  !!proxies && net.isIP(address) !== 0 && proxies.check(address, net.isIPv6(address) ? "ipv6" : "ipv4");

export function clientAddress(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, proxies: TrustedProxies): string {
  let client = plain(socketAddress ?? "");
  if (!trusted(proxies, client)) return client;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : (forwardedFor ?? ""))
    .split(",")
    .map((s) => plain(s.trim()))
    .filter((s) => net.isIP(s) !== 0);
  for (let i = hops.length - 1; i >= 0; i--) {
    client = hops[i]!;
    if (!trusted(proxies, client)) return client;
  }
  return client;
}
