import type { Client } from 'aedes';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../observability/logger.js';
import { anonymousMayUse, axonMayPublish, axonMaySubscribe, createBrokerSecurity, GATEWAY_USERNAME, isLoopbackAddress } from './acl.js';

const P = 'synapse/v1';

describe('topic rules', () => {
  it.each([
    [`${P}/discovery/a`, true],
    [`${P}/event/a`, true],
    [`${P}/discovery/b`, false],
    [`${P}/event/b`, false],
    [`${P}/command/a`, false],
    [`${P}/gateway/fanout`, false],
    [`${P}/event/a/extra`, false],
    [`other/v1/event/a`, false],
  ])('Axon a may publish %s: %s', (topic, allowed) => expect(axonMayPublish(P, 'a', topic)).toBe(allowed));

  it.each([
    [`${P}/command/a`, true],
    [`${P}/command/b`, false],
    [`${P}/command/+`, false],
    ['#', false],
    [`${P}/#`, false],
  ])('Axon a may subscribe to %s: %s', (filter, allowed) => expect(axonMaySubscribe(P, 'a', filter)).toBe(allowed));

  it.each([
    [`${P}/discovery/x`, true],
    [`${P}/command/x`, true],
    ['#', true],
    [`${P}/+/fanout`, true],
    [`${P}/gateway/fanout`, false],
    [`${P}/gateway/#`, false],
    [`${P}/gateway`, false],
    [`${P}/gateway/+`, false],
  ])('an anonymous client may use %s: %s', (topic, allowed) => expect(anonymousMayUse(P, topic)).toBe(allowed));

  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['fe80::1', false],
    [undefined, false],
  ])('%s is loopback: %s', (address, loopback) => expect(isLoopbackAddress(address)).toBe(loopback));
});

describe('authentication decisions', () => {
  const logger = createLogger('silent');
  const client = (id: string, remoteAddress = '127.0.0.1') => ({ id, conn: { remoteAddress }, close() {} }) as unknown as Client;
  const make = (open: boolean) =>
    createBrokerSecurity({
      prefix: P,
      isOpen: () => open,
      gatewayClientId: 'synapse-gw-x',
      logger,
      agents: {
        verify: async (serviceId, password) => (serviceId === 'a' && password === 'good' ? { credentialId: 'c1', serviceId: 'a', tenant: 't' } : null),
        revokedAmong: async () => [],
      },
    });

  it.each([
    ['open, anonymous from loopback', true, client('any'), undefined, undefined, true],
    ['open, anonymous from another machine', true, client('any', '192.168.1.5'), undefined, undefined, 5],
    ['secured, anonymous', false, client('any'), undefined, undefined, 5],
    ['secured, good credential', false, client('a'), 'a', 'good', true],
    ['secured, good credential with another client id', false, client('b'), 'a', 'good', 2],
    ['secured, wrong password', false, client('a'), 'a', 'bad', 4],
    ['secured, user name only', false, client('a'), 'a', undefined, 4],
    ['open, wrong password', true, client('a'), 'a', 'bad', 4],
    ["anonymous with the gateway's client id", true, client('synapse-gw-x'), undefined, undefined, 2],
    ['the gateway user with a wrong password', false, client('synapse-gw-x'), GATEWAY_USERNAME, 'nope', 4],
  ] as const)('%s', async (_name, open, c, username, password, expected) => {
    const outcome = await make(open).authenticate(c, username, password === undefined ? undefined : Buffer.from(password));
    expect(outcome.ok ? true : outcome.code).toBe(expected);
  });

  it("accepts the gateway's own credential, and its client may use every topic", async () => {
    const security = make(false);
    const c = client('synapse-gw-x');
    const outcome = await security.authenticate(c, security.gatewayCredential.username, Buffer.from(security.gatewayCredential.password));
    expect(outcome.ok).toBe(true);
    expect(security.mayPublish(c, `${P}/gateway/fanout`)).toBe(true);
    expect(security.maySubscribe(c, `${P}/event/+`)).toBe(true);
  });

  it('refuses a stored will without a client, and a client it never authenticated', () => {
    const security = make(true);
    expect(security.mayPublish(null, `${P}/event/a`)).toBe(false);
    expect(security.mayPublish(client('x'), `${P}/event/a`)).toBe(false);
  });

  it('refuses an anonymous client everything once the gateway is secured', async () => {
    let open = true;
    const security = createBrokerSecurity({ prefix: P, isOpen: () => open, gatewayClientId: 'gw', logger, agents: { verify: async () => null, revokedAmong: async () => [] } });
    let closed = 0;
    const c = { id: 'mvp', conn: { remoteAddress: '127.0.0.1' }, close: () => (closed += 1) } as unknown as Client;
    expect((await security.authenticate(c, undefined, undefined)).ok).toBe(true);
    expect(security.mayPublish(c, `${P}/event/a`)).toBe(true);
    open = false;
    expect(security.mayPublish(c, `${P}/event/a`)).toBe(false);
    expect(security.mayReceive(c, `${P}/command/a`)).toBe(false);
    await security.sweep([c]);
    expect(closed).toBeGreaterThanOrEqual(2);
  });
});
