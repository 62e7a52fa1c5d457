import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deliveryHeaders, generateSecret, signatureHeader, signedContent, verifySignature } from './signature.js';

const secret = 'whsec-test-0123456789abcdef';
const body = '{"type":"aionix.openact.action.succeeded","data":{"status":"succeeded"}}';
const id = '019b8945-3a9b-7a5a-9a5a-5a5a5a5a5a5a';
const now = Date.parse('2026-01-04T12:00:00Z');
const ts = Math.floor(now / 1000);

describe('signature', () => {
  it('signs "{deliveryId}.{timestamp}.{body}" with HMAC-SHA256, hex, prefixed sha256=', () => {
    expect(signedContent(id, ts, body)).toBe(`${id}.${ts}.${body}`);
    const expected = createHmac('sha256', secret).update(`${id}.${ts}.${body}`).digest('hex');
    expect(signatureHeader(secret, id, ts, body)).toBe(`sha256=${expected}`);
    expect(signatureHeader(secret, id, ts, body)).toMatch(/^sha256=[0-9a-f]{64}$/);
  });

  it('is a known vector (so receivers in other languages can check their code)', () => {
    expect(signatureHeader('secret', 'd1', 1700000000, '{}')).toBe(`sha256=${createHmac('sha256', 'secret').update('d1.1700000000.{}').digest('hex')}`);
  });

  const good = { deliveryId: id, timestamp: String(ts), signature: signatureHeader(secret, id, ts, body) };
  it.each([
    { name: 'the exact request', headers: good, body, at: now, want: { ok: true } },
    { name: 'a request 299 s old', headers: good, body, at: now + 299_000, want: { ok: true } },
    { name: 'a changed body', headers: good, body: body.replace('succeeded', 'failed'), at: now, want: { ok: false, reason: 'bad_signature' } },
    { name: 'another delivery id', headers: { ...good, deliveryId: 'other' }, body, at: now, want: { ok: false, reason: 'bad_signature' } },
    { name: 'another timestamp', headers: { ...good, timestamp: String(ts + 1) }, body, at: now, want: { ok: false, reason: 'bad_signature' } },
    { name: 'a wrong secret', headers: { ...good, signature: signatureHeader('other-secret-0123456', id, ts, body) }, body, at: now, want: { ok: false, reason: 'bad_signature' } },
    { name: 'a truncated signature', headers: { ...good, signature: good.signature.slice(0, 20) }, body, at: now, want: { ok: false, reason: 'bad_signature' } },
    { name: 'a replay 10 minutes later', headers: good, body, at: now + 600_000, want: { ok: false, reason: 'stale_timestamp' } },
    { name: 'no signature', headers: { ...good, signature: null }, body, at: now, want: { ok: false, reason: 'missing_header' } },
    { name: 'a timestamp that is not a number', headers: { ...good, timestamp: 'now' }, body, at: now, want: { ok: false, reason: 'missing_header' } },
  ])('verifySignature: $name', ({ headers, body: b, at, want }) => {
    expect(verifySignature(secret, headers, b, at)).toEqual(want);
  });
});

describe('deliveryHeaders', () => {
  it('carries the delivery id, the attempt, the timestamp and a signature over them', () => {
    const headers = deliveryHeaders({ deliveryId: id, attempt: 3, eventType: 'aionix.openact.action.succeeded', eventSeq: 7, body, nowMs: now + 999, secret });
    expect(headers).toEqual({
      'content-type': 'application/json',
      'user-agent': 'synapse-gateway-webhooks/1',
      'synapse-delivery-id': id,
      'synapse-delivery-attempt': '3',
      'synapse-timestamp': String(ts),
      'synapse-event-type': 'aionix.openact.action.succeeded',
      'synapse-event-seq': '7',
      'synapse-signature': signatureHeader(secret, id, ts, body),
    });
    expect(verifySignature(secret, { deliveryId: id, timestamp: headers['synapse-timestamp'], signature: headers['synapse-signature'] }, body, now)).toEqual({ ok: true });
  });

  it('has no signature without a secret', () => {
    expect(deliveryHeaders({ deliveryId: id, attempt: 1, eventType: 't', body, nowMs: now, secret: null })).not.toHaveProperty('synapse-signature');
  });
});

describe('generateSecret', () => {
  it('is 32 random bytes, base64url (43 characters)', () => {
    const a = generateSecret();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(generateSecret()).not.toBe(a);
    expect(generateSecret((n) => Buffer.alloc(n, 0xff))).toBe('_'.repeat(42) + '8');
  });
});
