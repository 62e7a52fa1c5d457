// Keeps webhook deliveries from reaching the gateway's own network (SSRF): a
// tenant's webhook URL must resolve to public addresses only, unless the
// operator allows private ones (SYNAPSE_WEBHOOK_ALLOW_PRIVATE). The check runs
// on the address the connection actually uses (a pinned DNS lookup), so a name
// that resolves differently between a check and the request cannot slip past.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';

function ipv4Private(ip: string): boolean {
  const [a, b] = ip.split('.').map(Number) as [number, number];
  return (
    a === 0 || a === 10 || a === 127 || a >= 224 || // this network, private, loopback, multicast and reserved
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local (cloud metadata)
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && ip.split('.')[2] === '0') ||
    (a === 198 && (b === 18 || b === 19)) // benchmarking
  );
}

/** True for addresses anyone on the internet could also reach. */
export function isPublicAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return !ipv4Private(ip);
  if (family !== 6) return false;
  const lower = ip.toLowerCase();
  const mapped = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return !ipv4Private(mapped[1]!);
  // The same, as URL parsing writes it: ::ffff:7f00:1.
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const [high, low] = [Number.parseInt(hex[1]!, 16), Number.parseInt(hex[2]!, 16)];
    return !ipv4Private(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`);
  }
  if (lower === '::' || lower === '::1') return false;
  const first = Number.parseInt(lower.split(':')[0] || '0', 16);
  // fc00::/7 unique local, fe80::/10 link-local, ff00::/8 multicast.
  return !((first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00);
}

export class BlockedAddressError extends Error {
  override name = 'BlockedAddressError';
}

/**
 * Why a URL's host is refused without a lookup (a non-public IP literal), or null.
 * Names, `localhost` included, are checked where the connection resolves them.
 */
export function blockedHost(url: string): string | null {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return null;
  }
  if (isIP(host) && !isPublicAddress(host)) return `${host} is a private, loopback or reserved address`;
  return null;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for sockets that fails when a name resolves to any non-public address. */
export function publicOnlyLookup(hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
  dnsLookup(hostname, { all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const blocked = addresses.find((a) => !isPublicAddress(a.address));
    if (blocked) return callback(new BlockedAddressError(`${hostname} resolves to ${blocked.address}, a private address: webhooks may only reach public addresses (SYNAPSE_WEBHOOK_ALLOW_PRIVATE=true allows them)`), []);
    if (options.all) return callback(null, addresses);
    const [first] = addresses;
    return first ? callback(null, first.address, first.family) : callback(new BlockedAddressError(`${hostname} has no address`), []);
  });
}
