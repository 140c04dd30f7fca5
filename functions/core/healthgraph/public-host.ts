/**
 * SSRF guard for URLs taken from payloads (activity photos): only hosts on the public
 * internet. An IP literal, or every address a name resolves to, must lie outside loopback,
 * private, link-local (169.254.169.254 is the cloud metadata service), shared, multicast,
 * documentation and other special-purpose ranges (IANA special-purpose registries), checked
 * with Node's own `net.BlockList`. Residual risk: a name that resolves differently between
 * this check and the connection (DNS rebinding) is not pinned.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { UnsafeUriError } from '../errors.ts';

const V4 = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const;

const V6 = [
  ['::', 127], // unspecified and loopback
  ['::ffff:0:0', 96], // IPv4-mapped: never a public content host's DNS answer
  ['64:ff9b::', 96], // NAT64 (embeds any IPv4, private ones too)
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23], // IETF protocol assignments (Teredo, benchmarking, ORCHID)
  ['2001:db8::', 32],
  ['2002::', 16], // 6to4 (embeds any IPv4)
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const;

// Two lists: one BlockList matches IPv4 addresses against IPv6 rules too (as IPv4-mapped).
const blocked4 = new BlockList();
const blocked6 = new BlockList();
for (const [net, bits] of V4) blocked4.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of V6) blocked6.addSubnet(net, bits, 'ipv6');

/** True for an address that is not on the public internet (or not an address at all). */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked4.check(address, 'ipv4');
  if (family === 6) return blocked6.check(address, 'ipv6');
  return true;
}

export type LookupFn = (hostname: string) => Promise<{ address: string }[]>;

export const systemLookup: LookupFn = (hostname) => dnsLookup(hostname, { all: true });

/** Throws UnsafeUriError unless `hostname` is, or resolves only to, public addresses. */
export async function assertPublicHost(
  hostname: string,
  lookup: LookupFn = systemLookup,
): Promise<void> {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (isIP(host)) {
    if (isNonPublicAddress(host)) throw new UnsafeUriError('image host is not a public address');
    return;
  }
  if (/(^|\.)localhost$/i.test(host) || !host.includes('.')) {
    throw new UnsafeUriError('image host is not a public name');
  }
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host);
  } catch {
    throw new UnsafeUriError('image host does not resolve');
  }
  if (addresses.length === 0 || addresses.some((a) => isNonPublicAddress(a.address))) {
    throw new UnsafeUriError('image host resolves to a non-public address');
  }
}
