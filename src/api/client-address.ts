import { isIPv4, isIPv6 } from 'node:net';

/**
 * The key a client's limits are kept under: its IPv4 address, or the /64 prefix of its IPv6 address
 * (one host usually owns a whole /64, so per-address limits on full IPv6 addresses would be free
 * to dodge). IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as the IPv4 address.
 */
export function clientKey(remoteAddressText: ArrayBuffer): string {
  const text = Buffer.from(remoteAddressText).toString('latin1');
  if (isIPv4(text)) return text;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (isIPv6(text)) return `${ipv6Prefix64(text)}::/64`;
  // uWS gave something unexpected (or nothing): one shared bucket, never a free pass.
  return text || 'unknown';
}

/** The first four groups of an IPv6 address, expanded (`2001:db8::1` → `2001:db8:0:0`). */
function ipv6Prefix64(addr: string): string {
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':');
}
