import { describe, expect, it } from 'vitest';
import { eventLine, progressBar } from './progress.js';
import { graphqlEndpoint } from './io.js';

describe('tail rendering', () => {
  it('draws a progress bar', () => {
    expect(progressBar(0.5, 'half', 10)).toBe('[█████░░░░░]  50% half');
    expect(progressBar(2, '', 4)).toBe('[████] 100%');
    expect(progressBar(Number.NaN, '', 4)).toBe('[░░░░]   0%');
  });
  it('describes an event', () => {
    expect(eventLine({ seq: 3, type: 'aionix.openact.action.failed', state: 'failed', reason: 'timeout' })).toBe('#3 failed → failed (timeout)');
  });
  it('finds the GraphQL endpoint of a gateway', () => {
    expect(graphqlEndpoint('http://127.0.0.1:4000')).toBe('http://127.0.0.1:4000/graphql');
    expect(graphqlEndpoint('https://gw.example.com/base/')).toBe('https://gw.example.com/base/graphql');
    expect(graphqlEndpoint('http://h/graphql')).toBe('http://h/graphql');
    expect(() => graphqlEndpoint('ftp://x')).toThrow(/http/);
    expect(() => graphqlEndpoint('nope')).toThrow(/URL/);
  });
});
