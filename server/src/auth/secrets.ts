// Secrets of API keys (`sgk_…`) and Axon credentials (`sga_…`): generation,
// parsing and salted hashing. Pure apart from the random source, which is passed in.
//
// Format: `{prefix}_{id without dashes}_{secret}`: the id finds the row without a
// scan, the 256-bit secret is checked against a salted SHA-256 in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';

export type SecretKind = 'sgk' | 'sga';

export interface ParsedSecret {
  kind: SecretKind;
  /** The row id (UUID with dashes). */
  id: string;
  secret: string;
}

const SECRET_RE = /^(sgk|sga)_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

const toUuid = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;

export function formatSecret(kind: SecretKind, id: string, secret: string): string {
  return `${kind}_${id.replaceAll('-', '')}_${secret}`;
}

/** Null for anything that is not a well-formed secret (never throws). */
export function parseSecret(value: string): ParsedSecret | null {
  if (value.length > 100) return null;
  const match = SECRET_RE.exec(value);
  if (!match) return null;
  return { kind: match[1] as SecretKind, id: toUuid(match[2]!), secret: match[3]! };
}

export interface HashedSecret {
  salt: string;
  hash: string;
}

export function hashSecret(secret: string, salt: string): string {
  return createHash('sha256').update(salt).update('\0').update(secret).digest('base64url');
}

/** A new random secret (32 bytes, base64url) and its salted hash. */
export function newSecret(random: (n: number) => Buffer): { secret: string } & HashedSecret {
  const secret = random(32).toString('base64url');
  const salt = random(16).toString('base64url');
  return { secret, salt, hash: hashSecret(secret, salt) };
}

export function secretMatches(secret: string, stored: HashedSecret): boolean {
  const actual = Buffer.from(hashSecret(secret, stored.salt));
  const expected = Buffer.from(stored.hash);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** The credential from an `Authorization` header value: `Bearer <key>` (case-insensitive scheme). */
export function bearerToken(header: string | undefined | null): string | null {
  if (!header) return null;
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}
