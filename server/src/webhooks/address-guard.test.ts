import { describe, expect, it } from 'vitest';
import { blockedHost, isPublicAddress, publicOnlyLookup } from './address-guard.js';

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['1.1.1.1', true],
    ['172.32.0.1', true],
    ['100.128.0.1', true],
    ['2606:4700:4700::1111', true],
    ['0.0.0.0', false],
    ['10.1.2.3', false],
    ['127.0.0.1', false],
    ['127.255.255.254', false],
    ['169.254.169.254', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['192.168.1.1', false],
    ['100.64.0.1', false],
    ['192.0.0.8', false],
    ['198.18.0.1', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['::', false],
    ['::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:8.8.8.8', true],
    ['::ffff:7f00:1', false],
    ['::ffff:808:808', true],
    ['64:ff9b::10.0.0.1', false],
    ['fc00::1', false],
    ['fd12:3456::1', false],
    ['fe80::1', false],
    ['ff02::1', false],
    ['not an ip', false],
  ])('%s → %s', (ip, expected) => {
    expect(isPublicAddress(ip)).toBe(expected);
  });
});

describe('blockedHost', () => {
  it.each([
    ['http://127.0.0.1:9/x', true],
    ['http://[::1]/x', true],
    ['http://localhost/x', false],
    ['http://[::ffff:127.0.0.1]/x', true],
    ['http://169.254.169.254/latest/meta-data', true],
    ['https://hooks.example.com/x', false],
    ['https://8.8.8.8/x', false],
  ])('%s blocked: %s', (url, blocked) => {
    expect(blockedHost(url) !== null).toBe(blocked);
  });
});

describe('publicOnlyLookup', () => {
  it('refuses a name that resolves to loopback', async () => {
    const error = await new Promise<Error | null>((resolve) => publicOnlyLookup('localhost', {}, (e) => resolve(e)));
    expect(error?.name).toBe('BlockedAddressError');
    expect(error?.message).toContain('SYNAPSE_WEBHOOK_ALLOW_PRIVATE');
  });
});
