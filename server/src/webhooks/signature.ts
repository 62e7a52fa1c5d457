// Webhook request signing (HMAC-SHA256), and the headers of a delivery.
// Pure apart from node:crypto's HMAC; the time is passed in.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_HEADERS = {
  deliveryId: 'synapse-delivery-id',
  attempt: 'synapse-delivery-attempt',
  timestamp: 'synapse-timestamp',
  signature: 'synapse-signature',
  eventType: 'synapse-event-type',
  eventSeq: 'synapse-event-seq',
} as const;

/** How far a receiver should accept a timestamp from its own clock (documented; the gateway does not enforce it). */
export const SIGNATURE_TOLERANCE_S = 300;

/** The string that is signed: `{deliveryId}.{timestamp}.{body}`. */
export function signedContent(deliveryId: string, timestampS: number, body: string): string {
  return `${deliveryId}.${timestampS}.${body}`;
}

/** `sha256=` + the lowercase hex HMAC-SHA256 of the signed content, keyed with the secret's UTF-8 bytes. */
export function signatureHeader(secret: string, deliveryId: string, timestampS: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(signedContent(deliveryId, timestampS, body)).digest('hex')}`;
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'missing_header' | 'bad_signature' | 'stale_timestamp' };

/** What a receiver does: recompute the signature (constant-time compare) and check the timestamp's age. */
export function verifySignature(
  secret: string,
  headers: { deliveryId?: string | null; timestamp?: string | null; signature?: string | null },
  body: string,
  nowMs: number,
  toleranceS = SIGNATURE_TOLERANCE_S,
): VerifyResult {
  const { deliveryId, timestamp, signature } = headers;
  if (!deliveryId || !timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'missing_header' };
  const expected = Buffer.from(signatureHeader(secret, deliveryId, Number(timestamp), body));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceS) return { ok: false, reason: 'stale_timestamp' };
  return { ok: true };
}

export interface DeliveryHeadersInput {
  deliveryId: string;
  attempt: number;
  eventType: string;
  /** The run event's sequence number (deliveries may arrive out of order; this orders them). */
  eventSeq?: number;
  body: string;
  nowMs: number;
  /** No secret, no signature header (the Stepflow endpoint without STEPFLOW_EVENTS_SECRET). */
  secret: string | null;
}

/** The request headers of one attempt. */
export function deliveryHeaders(input: DeliveryHeadersInput): Record<string, string> {
  const timestampS = Math.floor(input.nowMs / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'synapse-gateway-webhooks/1',
    [WEBHOOK_HEADERS.deliveryId]: input.deliveryId,
    [WEBHOOK_HEADERS.attempt]: String(input.attempt),
    [WEBHOOK_HEADERS.timestamp]: String(timestampS),
    [WEBHOOK_HEADERS.eventType]: input.eventType,
  };
  if (input.eventSeq !== undefined) headers[WEBHOOK_HEADERS.eventSeq] = String(input.eventSeq);
  if (input.secret !== null) headers[WEBHOOK_HEADERS.signature] = signatureHeader(input.secret, input.deliveryId, timestampS, input.body);
  return headers;
}

/** A new signing secret: 32 random bytes, base64url. */
export function generateSecret(random: (n: number) => Buffer = randomBytes): string {
  return random(32).toString('base64url');
}
