/**
 * What every Meta webhook shares (WhatsApp Cloud API, Messenger, Instagram): the GET verification
 * (`hub.mode=subscribe`, `hub.verify_token`, `hub.challenge` → 200 with the challenge) and the
 * `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>` on every POST, checked on
 * the raw bytes before anything is parsed.
 */
import { InvalidField } from '../../errors.ts';
import { WebhookRejected, type WebhookRequest } from '../provider.ts';
import { headerValue, hmacHex, safeEqual } from '../signature.ts';

export const SIGNATURE_HEADER = 'x-hub-signature-256';

/** The header value Meta sends for a body (tests and fakes sign with the same function). */
export function signMetaBody(appSecret: string, body: Buffer | string): string {
  return `sha256=${hmacHex('sha256', appSecret, body)}`;
}

/** Throws WebhookRejected unless the request carries the app secret's signature of its raw body. */
export function verifyMetaSignature(request: WebhookRequest, appSecret: unknown): void {
  if (typeof appSecret !== 'string' || appSecret === '') {
    throw new WebhookRejected('CHANNEL_MISCONFIGURED', 'the channel has no settings.appSecret');
  }
  const given = headerValue(request.headers, SIGNATURE_HEADER);
  if (!given) throw new WebhookRejected('INVALID_SIGNATURE', 'missing X-Hub-Signature-256');
  if (!safeEqual(given.toLowerCase(), signMetaBody(appSecret, request.rawBody))) {
    throw new WebhookRejected('INVALID_SIGNATURE', 'X-Hub-Signature-256 does not match the body');
  }
}

/** The answer to Meta's webhook verification, or null when the verify token does not match. */
export function metaChallenge(
  request: WebhookRequest,
  verifyToken: unknown,
): { status: number; body: string } | null {
  const mode = request.query['hub.mode'];
  const token = request.query['hub.verify_token'];
  const challenge = request.query['hub.challenge'];
  if (typeof verifyToken !== 'string' || verifyToken === '') return null;
  if (mode !== 'subscribe' || typeof token !== 'string' || typeof challenge !== 'string') return null;
  if (!safeEqual(token, verifyToken)) return null;
  return { status: 200, body: challenge };
}

type Json = Record<string, unknown>;
export const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The signed body as a Meta envelope `{"object", "entry": [...]}` of the expected object. */
export function parseEnvelope(rawBody: Buffer, object: string): Json[] {
  let body: unknown;
  try {
    body = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw new InvalidField('body', 'is not valid JSON', 'INVALID_JSON');
  }
  if (!isRecord(body)) throw new InvalidField('body', 'must be a webhook object', 'INVALID_PAYLOAD');
  if (body.object !== object) {
    throw new InvalidField('body.object', `must be "${object}"`, 'INVALID_PAYLOAD');
  }
  if (!Array.isArray(body.entry)) throw new InvalidField('body.entry', 'must be an array', 'INVALID_PAYLOAD');
  return body.entry.filter(isRecord);
}

/** A Meta timestamp (seconds as a string for WhatsApp, milliseconds for Messenger) as a Date. */
export function metaTime(value: unknown, unit: 's' | 'ms'): Date {
  const n = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : Number.NaN;
  return Number.isFinite(n) && n > 0 ? new Date(unit === 's' ? n * 1000 : n) : new Date();
}
