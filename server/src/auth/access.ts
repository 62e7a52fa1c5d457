// Access control: who a caller is (open mode or an API key), and the end of
// open subscriptions whose key is revoked or expires. Transport-free: the HTTP
// and WebSocket adapters pass the Authorization value in and act on the result.
//
// Open mode (no key configured, loopback only) is a latch: once any key exists
// the process requires keys until it stops, even if every key is revoked later.
import { type Result, ok } from '../errors.js';
import type { AuthFailure, KeyStore } from './keys.js';
import { openPrincipal, type Principal } from './principal.js';
import { bearerToken } from './secrets.js';

export interface AccessControlOptions {
  keys: KeyStore;
  /** Tenant of open-mode callers (SYNAPSE_DEFAULT_TENANT). */
  defaultTenant: string;
  /** Whether keys are required from the start. */
  secured: boolean;
  now: () => number;
  onSecured?: () => void;
}

type EndedReason = 'key_revoked' | 'key_expired';

export function createAccessControl(options: AccessControlOptions) {
  let secured = options.secured;
  const open = openPrincipal(options.defaultTenant);
  const watchers = new Map<string, Set<(reason: EndedReason) => void>>();

  function secure(): void {
    if (secured) return;
    secured = true;
    options.onSecured?.();
  }

  /** Who presents this Authorization value (`Bearer <key>`, or a bare key as graphql-ws clients often send). */
  async function authenticate(authorization: string | null | undefined): Promise<Result<Principal, AuthFailure>> {
    const value = typeof authorization === 'string' ? authorization.trim() : '';
    if (value === '') {
      if (!secured) return ok(open);
      return { ok: false, error: { code: 'unauthenticated', field: null, message: 'an API key is required: send Authorization: Bearer <key>' } };
    }
    const token = bearerToken(value) ?? (/\s/.test(value) ? null : value);
    if (token === null) return { ok: false, error: { code: 'unauthenticated', field: null, message: 'the Authorization header must be "Bearer <key>"' } };
    return options.keys.authenticate(token);
  }

  /** Calls `onEnded` once when the principal's key is revoked or expires; returns the unwatch. */
  function watch(principal: Principal, onEnded: (reason: EndedReason) => void): () => void {
    const { keyId } = principal;
    if (keyId === null) return () => {};
    let set = watchers.get(keyId);
    if (!set) watchers.set(keyId, (set = new Set()));
    let fired = false;
    const once = (reason: EndedReason) => {
      if (fired) return;
      fired = true;
      onEnded(reason);
    };
    set.add(once);
    const expiresAt = principal.expiresAt?.getTime();
    const timer = expiresAt === undefined ? undefined : setTimeout(() => once('key_expired'), Math.max(0, Math.min(expiresAt - options.now(), 2 ** 31 - 1)));
    timer?.unref();
    return () => {
      clearTimeout(timer);
      set.delete(once);
      if (set.size === 0) watchers.delete(keyId);
    };
  }

  function ended(keyId: string, reason: EndedReason): void {
    options.keys.forget(keyId);
    for (const fire of [...(watchers.get(keyId) ?? [])]) fire(reason);
  }

  /** One pass: ends subscriptions of keys revoked anywhere, and latches secured mode once a key exists. */
  async function check(): Promise<void> {
    if (!secured && (await options.keys.activeCount()) > 0) secure();
    const ids = [...watchers.keys()];
    if (ids.length === 0) return;
    for (const id of await options.keys.endedAmong(ids)) ended(id, 'key_revoked');
  }

  return {
    authenticate,
    watch,
    check,
    /** Called after a key is created here, so this process stops accepting anonymous callers at once. */
    secure,
    /** A key revoked by this process: its subscriptions end now rather than at the next check. */
    revoked: (keyId: string) => ended(keyId, 'key_revoked'),
    isOpen: () => !secured,
  };
}

export type AccessControl = ReturnType<typeof createAccessControl>;
