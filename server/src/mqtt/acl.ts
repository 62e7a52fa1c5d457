// Who may connect to the embedded broker and which topics each client may use
// (docs/security.md, "MQTT edge"). Three kinds of client:
// - the gateway's own client: a random in-process credential, every topic;
// - an Axon with a credential: user name = client id = its service id; it may
//   publish only its own discovery and event topics and subscribe only to its
//   own command topic;
// - an anonymous client: only while the gateway runs open and only from
//   loopback (MVP Axons connect anonymously with any client id); it may use
//   every topic except the gateway's own (`{prefix}/gateway/#`): open mode
//   trusts this machine (GraphQL gives it every scope too), but nobody may
//   forge the gateways' fan-out.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Client } from 'aedes';
import type { AgentIdentity } from '../auth/agents.js';
import type { Logger } from '../observability/logger.js';
import { topicMatches } from './bus.js';

/** CONNACK return codes (MQTT 3.1.1, table 3.1). */
export const CONNACK = { identifierRejected: 2, serverUnavailable: 3, badUserNameOrPassword: 4, notAuthorized: 5 } as const;
export type ConnackRefusal = (typeof CONNACK)[keyof typeof CONNACK];

export type MqttRole = { kind: 'gateway' } | { kind: 'axon'; serviceId: string; credentialId: string } | { kind: 'anonymous' };

export type AuthOutcome = { ok: true; role: MqttRole } | { ok: false; code: ConnackRefusal; reason: string };

export interface MqttAgentCredentials {
  verify(serviceId: string, password: string): Promise<AgentIdentity | null>;
  revokedAmong(credentialIds: readonly string[]): Promise<string[]>;
}

export interface BrokerSecurityOptions {
  prefix: string;
  /** True while the gateway runs open (no API key, loopback only). Read at every decision: it latches to false at run time. */
  isOpen: () => boolean;
  agents: MqttAgentCredentials;
  /** The gateway's own client id: nobody else may take it over. */
  gatewayClientId: string;
  logger: Logger;
}

/** The user name of the gateway's own client: not a valid service id, so no Axon credential can claim it. */
export const GATEWAY_USERNAME = 'synapse:gateway';

/** Addresses only this machine can reach (IPv4-mapped IPv6 included). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || /^127(\.\d{1,3}){3}$/.test(a);
}

/** The topics an Axon of `serviceId` may publish on. */
export function axonMayPublish(prefix: string, serviceId: string, topic: string): boolean {
  return topic === `${prefix}/discovery/${serviceId}` || topic === `${prefix}/event/${serviceId}`;
}

/** The one filter an Axon of `serviceId` may subscribe to (no wildcards). */
export function axonMaySubscribe(prefix: string, serviceId: string, filter: string): boolean {
  return filter === `${prefix}/command/${serviceId}`;
}

/**
 * Anonymous (open-mode) clients: anything but the gateway's own topics. A filter
 * such as `#` is granted; deliveries on the gateway's topics are then withheld.
 */
export function anonymousMayUse(prefix: string, topicOrFilter: string): boolean {
  return !topicMatches(`${prefix}/gateway/#`, topicOrFilter);
}

export function createBrokerSecurity(options: BrokerSecurityOptions) {
  const { prefix, logger } = options;
  // Generated per process and never logged: only the gateway's own client knows it.
  const gatewayPassword = randomBytes(32).toString('base64url');
  const roles = new WeakMap<Client, MqttRole>();
  const warned = new WeakSet<Client>();

  function passwordIsGateway(password: Buffer | undefined): boolean {
    const expected = Buffer.from(gatewayPassword);
    return password !== undefined && password.length === expected.length && timingSafeEqual(password, expected);
  }

  async function decide(client: Client, username: string | undefined, password: Buffer | undefined): Promise<AuthOutcome> {
    if (username === GATEWAY_USERNAME) {
      return passwordIsGateway(password) ? { ok: true, role: { kind: 'gateway' } } : { ok: false, code: CONNACK.badUserNameOrPassword, reason: 'wrong gateway password' };
    }
    if (client.id === options.gatewayClientId) return { ok: false, code: CONNACK.identifierRejected, reason: 'the client id is the gateway\'s own' };
    if (username === undefined && password === undefined) {
      if (!options.isOpen()) return { ok: false, code: CONNACK.notAuthorized, reason: 'anonymous: the gateway requires Axon credentials (createAgentCredential)' };
      const remote = (client.conn as { remoteAddress?: string }).remoteAddress;
      if (!isLoopbackAddress(remote)) return { ok: false, code: CONNACK.notAuthorized, reason: 'anonymous from another machine: only loopback clients may connect without a credential' };
      return { ok: true, role: { kind: 'anonymous' } };
    }
    if (!username || !password) return { ok: false, code: CONNACK.badUserNameOrPassword, reason: 'a user name needs a password and a password needs a user name' };
    if (client.id !== username) return { ok: false, code: CONNACK.identifierRejected, reason: 'the client id must equal the user name (the service id)' };
    const identity = await options.agents.verify(username, password.toString('utf8'));
    if (!identity) return { ok: false, code: CONNACK.badUserNameOrPassword, reason: 'unknown service, wrong or revoked credential' };
    return { ok: true, role: { kind: 'axon', serviceId: identity.serviceId, credentialId: identity.credentialId } };
  }

  /** Logs the first refusal of a connection at warn (then debug): a misbehaving client must not flood the log. */
  function refused(client: Client, what: string, topic: string): void {
    const role = roles.get(client);
    const fields = { clientId: client.id.slice(0, 128), role: role?.kind ?? 'unknown', topic: topic.slice(0, 256) };
    if (warned.has(client)) return logger.debug(fields, `mqtt ${what} refused`);
    warned.add(client);
    logger.warn(fields, `mqtt ${what} refused by the broker's ACL: an Axon may publish only ${prefix}/discovery/{its service id} and ${prefix}/event/{its service id}, and subscribe only to ${prefix}/command/{its service id}`);
  }

  /** An anonymous client that connected while the gateway was open, now that it is secured. */
  const expired = (role: MqttRole | undefined) => role?.kind === 'anonymous' && !options.isOpen();
  /** The client's role while it may still act; an anonymous client left over from open mode is closed. */
  const activeRole = (client: Client): MqttRole | null => {
    const role = roles.get(client);
    if (!role) return null;
    if (expired(role)) {
      client.close();
      return null;
    }
    return role;
  };

  /** The ACL for one use of a topic (or filter): the gateway's client anything, an Axon its own topics, an anonymous client none of the gateway's. */
  function mayUse(client: Client, use: 'publish' | 'subscribe' | 'receive', topic: string): boolean {
    const role = activeRole(client);
    if (!role) return false;
    if (role.kind === 'gateway') return true;
    const axonMay = use === 'publish' ? axonMayPublish : axonMaySubscribe;
    const allowed = role.kind === 'axon' ? axonMay(prefix, role.serviceId, topic) : anonymousMayUse(prefix, topic);
    // A refused delivery is the broker's business, not the client's doing: not logged.
    if (!allowed && use !== 'receive') refused(client, use, topic);
    return allowed;
  }

  return {
    /** The credential of the gateway's own client on this broker. */
    gatewayCredential: { username: GATEWAY_USERNAME, password: gatewayPassword },

    async authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<AuthOutcome> {
      let outcome: AuthOutcome;
      try {
        outcome = await decide(client, username, password);
      } catch (error) {
        logger.error({ err: error instanceof Error ? error.message : String(error) }, 'mqtt credential check failed (is the database reachable?); refusing the connection for now');
        outcome = { ok: false, code: CONNACK.serverUnavailable, reason: 'credential check failed' };
      }
      if (outcome.ok) roles.set(client, outcome.role);
      else logger.warn({ clientId: String(client.id ?? '').slice(0, 128), user: username?.slice(0, 128), code: outcome.code, reason: outcome.reason }, 'mqtt connection refused');
      return outcome;
    },

    /** Whether `client` may publish on `topic`; a refused publish is acknowledged and dropped. */
    mayPublish(client: Client | null, topic: string): boolean {
      // No client: a stored will of a client gone before this process started; nobody vouches for it.
      return client !== null && mayUse(client, 'publish', topic);
    },

    maySubscribe(client: Client, filter: string): boolean {
      return mayUse(client, 'subscribe', filter);
    },

    /**
     * Checked on every delivery, also of a resumed session's subscriptions and
     * queued messages, which were never authorised for this credential (the
     * session may date from open mode).
     */
    mayReceive(client: Client, topic: string): boolean {
      return mayUse(client, 'receive', topic);
    },

    /**
     * Ends the connections that are no longer allowed: anonymous ones once the
     * gateway is secured, and those whose credential was revoked (here or by
     * another gateway process).
     */
    async sweep(clients: readonly Client[]): Promise<void> {
      const byCredential = new Map<string, Client[]>();
      for (const client of clients) {
        const role = roles.get(client);
        if (expired(role)) {
          logger.info({ clientId: client.id.slice(0, 128) }, 'mqtt: disconnecting an anonymous client: the gateway requires credentials now');
          client.close();
        } else if (role?.kind === 'axon') {
          const list = byCredential.get(role.credentialId) ?? [];
          list.push(client);
          byCredential.set(role.credentialId, list);
        }
      }
      const ids = [...byCredential.keys()];
      for (let i = 0; i < ids.length; i += 1_000) {
        for (const id of await options.agents.revokedAmong(ids.slice(i, i + 1_000))) {
          for (const client of byCredential.get(id) ?? []) {
            logger.info({ clientId: client.id.slice(0, 128), credentialId: id }, 'mqtt: disconnecting an Axon whose credential was revoked');
            client.close();
          }
        }
      }
    },
  };
}

export type BrokerSecurity = ReturnType<typeof createBrokerSecurity>;
