// Which addresses a source may connect to. Checked on the resolved addresses at connect time, in
// test-connection and in the worker alike, so a DNS name cannot smuggle a forbidden address in.
// Always denied unless explicitly allowed: link-local ranges and cloud metadata endpoints.
// Operators add ECM_SOURCE_HOST_DENY (CIDRs) and may restrict to ECM_SOURCE_HOST_ALLOW (CIDRs).
import dns from "node:dns/promises";
import net from "node:net";
import { AppError } from "../errors/app-error.ts";

export type HostPolicy = { allow: net.BlockList | null; deny: net.BlockList };

const DEFAULT_DENY = ["169.254.0.0/16", "fe80::/10", "100.100.100.200/32", "fd00:ec2::254/128", "0.0.0.0/8", "::/128"];

export function blockList(cidrs: string[], name: string): net.BlockList {
  const list = new net.BlockList();
  for (const cidr of cidrs) {
    const [addr, bits] = cidr.split("/") as [string, string | undefined];
    const family = net.isIPv6(addr) ? "ipv6" : net.isIPv4(addr) ? "ipv4" : null;
    if (!family) throw new Error(`${name}: "${cidr}" is not an IP address or CIDR range`);
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return list;
}

const split = (v: string | undefined) =>
  (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

export function hostPolicyFromEnv(e: Record<string, string | undefined> = process.env): HostPolicy {
  const allow = split(e.ECM_SOURCE_HOST_ALLOW);
  return {
    allow: allow.length ? blockList(allow, "ECM_SOURCE_HOST_ALLOW") : null,
    deny: blockList([...DEFAULT_DENY, ...split(e.ECM_SOURCE_HOST_DENY)], "ECM_SOURCE_HOST_DENY"),
  };
}

export function addressAllowed(address: string, policy: HostPolicy): boolean {
  const family = net.isIPv6(address) ? "ipv6" : "ipv4";
  if (policy.allow) return policy.allow.check(address, family);
  return !policy.deny.check(address, family);
}

const refused = (host: string) =>
  new AppError("FORBIDDEN", `connections to ${host} are not allowed by the source host policy (ECM_SOURCE_HOST_ALLOW / ECM_SOURCE_HOST_DENY)`, {
    category: "CONFIGURATION",
    issues: [{ path: "config.connection.host", message: "not allowed by the source host policy" }],
  });

/**
 * Resolves a host and returns the address to connect to. Every address the name resolves to must
 * be allowed: connecting to the checked address (not the name again) closes the DNS-rebinding gap.
 */
export async function resolveAllowedAddress(host: string, policy: HostPolicy = hostPolicyFromEnv()): Promise<string> {
  let addresses: string[];
  if (net.isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch {
      throw new AppError("BAD_REQUEST", `host ${host} does not resolve`, {
        category: "CONFIGURATION",
        issues: [{ path: "config.connection.host", message: "name does not resolve; check the spelling or DNS" }],
      });
    }
  }
  if (!addresses.length || !addresses.every((a) => addressAllowed(a, policy))) throw refused(host);
  // IPv4 first: servers commonly listen on 127.0.0.1 only while "localhost" also resolves to ::1.
  return addresses.find((a) => net.isIPv4(a)) ?? addresses[0]!;
}
