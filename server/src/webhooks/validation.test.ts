import { describe, expect, it } from 'vitest';
import { matchesEventType, validateWebhookInput } from './validation.js';

describe('validateWebhookInput', () => {
  const base = { url: 'https://hooks.example.com/synapse', eventTypes: ['succeeded'] };
  it.each([
    { name: 'an https URL', input: base, want: { url: base.url, eventTypes: ['succeeded'], secret: null } },
    { name: 'an http URL with a port and query', input: { ...base, url: 'http://127.0.0.1:8080/h?x=1' }, want: { url: 'http://127.0.0.1:8080/h?x=1', eventTypes: ['succeeded'], secret: null } },
    { name: 'a trimmed URL', input: { ...base, url: '  https://a.example/  ' }, want: { url: 'https://a.example/', eventTypes: ['succeeded'], secret: null } },
    { name: 'duplicate types', input: { ...base, eventTypes: ['failed', 'succeeded', 'failed'] }, want: { url: base.url, eventTypes: ['failed', 'succeeded'], secret: null } },
    { name: '* with others', input: { ...base, eventTypes: ['succeeded', '*'] }, want: { url: base.url, eventTypes: ['*'], secret: null } },
    { name: 'a secret', input: { ...base, secret: 'a-long-enough-secret' }, want: { url: base.url, eventTypes: ['succeeded'], secret: 'a-long-enough-secret' } },
    { name: 'a null secret', input: { ...base, secret: null }, want: { url: base.url, eventTypes: ['succeeded'], secret: null } },
  ])('accepts $name', ({ input, want }) => {
    expect(validateWebhookInput(input)).toEqual({ ok: true, value: want });
  });

  it.each([
    { name: 'an ftp URL', input: { ...base, url: 'ftp://example.com/x' }, code: 'invalid_url', field: 'url' },
    { name: 'a file URL', input: { ...base, url: 'file:///etc/passwd' }, code: 'invalid_url', field: 'url' },
    { name: 'a javascript URL', input: { ...base, url: 'javascript:alert(1)' }, code: 'invalid_url', field: 'url' },
    { name: 'a relative URL', input: { ...base, url: '/hooks' }, code: 'invalid_url', field: 'url' },
    { name: 'a URL with credentials', input: { ...base, url: 'https://user:pw@example.com/' }, code: 'invalid_url', field: 'url' },
    { name: 'a URL over 2 KiB', input: { ...base, url: `https://example.com/${'a'.repeat(2048)}` }, code: 'invalid_url', field: 'url' },
    { name: 'no URL', input: { eventTypes: ['succeeded'] }, code: 'invalid_url', field: 'url' },
    { name: 'an unknown event type', input: { ...base, eventTypes: ['finished'] }, code: 'invalid_event_types', field: 'eventTypes' },
    { name: 'a full event type', input: { ...base, eventTypes: ['aionix.openact.action.succeeded'] }, code: 'invalid_event_types', field: 'eventTypes' },
    { name: 'no event types', input: { ...base, eventTypes: [] }, code: 'invalid_event_types', field: 'eventTypes' },
    { name: 'a short secret', input: { ...base, secret: 'short' }, code: 'invalid_secret', field: 'secret' },
    { name: 'a secret with spaces', input: { ...base, secret: 'has spaces in it, sixteen+' }, code: 'invalid_secret', field: 'secret' },
  ])('rejects $name with $code', ({ input, code, field }) => {
    const result = validateWebhookInput(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatchObject({ code, field, message: expect.any(String) });
  });
});

describe('matchesEventType', () => {
  it.each([
    { types: ['*'], short: 'progress', want: true },
    { types: ['succeeded'], short: 'succeeded', want: true },
    { types: ['succeeded'], short: 'failed', want: false },
    { types: ['failed', 'timed_out'], short: 'timed_out', want: true },
  ])('$types / $short → $want', ({ types, short, want }) => {
    expect(matchesEventType(types, short)).toBe(want);
  });
});
