/**
 * Visitor tokens and identities.
 *
 * A visitor token is `v1.<payload>.<signature>` (base64url): the payload `{"c": channelId, "v":
 * visitorId, "exp": unix seconds, "n": name, "e": e-mail}` signed with HMAC-SHA256 under the channel's `tokenSecret`. It is
 * short-lived (15 minutes) and names one channel and one visitor: the widget asks for a new one
 * (`POST /livechat/:channelId/visitors`) when it expires, and the gateway answers an expired token
 * with error 109 so the SDK does exactly that.
 *
 * Visitor ids: `a:<uuid>` for an anonymous visitor (the uuid is kept in the browser's localStorage;
 * knowing it is what proves being that visitor), `u:<id>` for a user the site identified with a
 * valid `hash = HMAC-SHA256(identitySecret, id)` — the same client on any device.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { ProviderError } from '../provider.ts';
import { hmacHex, safeEqual } from '../signature.ts';

export const TOKEN_TTL_SECONDS = 15 * 60;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** What a site may use as a user id: printable, no separators of ours. */
export const IDENTITY_ID = /^[A-Za-z0-9._@+-]{1,100}$/;

const sign = (secret: string, payload: string) =>
  createHmac('sha256', secret).update(payload).digest('base64url');

/** What the visitor told the pre-chat form (or the site, for a verified user): their client's profile. */
export interface VisitorProfile {
  name: string | null;
  email: string | null;
}

export function issueVisitorToken(
  secret: string,
  channelId: string,
  visitorId: string,
  now = Date.now(),
  profile: VisitorProfile = { name: null, email: null },
) {
  const exp = Math.floor(now / 1000) + TOKEN_TTL_SECONDS;
  const body = {
    c: channelId,
    v: visitorId,
    exp,
    n: profile.name ?? undefined,
    e: profile.email ?? undefined,
  };
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
  return { token: `v1.${payload}.${sign(secret, payload)}`, expiresAt: new Date(exp * 1000) };
}

/**
 * The visitor a token names, or null when it is not a valid token of this channel. An expired
 * token throws ProviderError TOKEN_EXPIRED (the client gets a new one).
 */
export function verifyVisitorToken(
  secret: string,
  channelId: string,
  token: string,
  now = Date.now(),
): ({ visitorId: string } & VisitorProfile) | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== 'v1') return null;
  const [, payload, signature] = parts as [string, string, string];
  if (!safeEqual(signature, sign(secret, payload))) return null;
  let body: { c?: unknown; v?: unknown; exp?: unknown; n?: unknown; e?: unknown };
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (body.c !== channelId || typeof body.v !== 'string' || typeof body.exp !== 'number') return null;
  if (body.exp * 1000 <= now) throw new ProviderError('TOKEN_EXPIRED', 'the visitor token has expired');
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return { visitorId: body.v, name: str(body.n), email: str(body.e) };
}

/** An anonymous visitor id from the browser's storage, or a new one when it has none (or a bad one). */
export function anonymousVisitorId(stored: unknown): string {
  if (typeof stored === 'string' && stored.startsWith('a:') && UUID.test(stored.slice(2))) return stored;
  return `a:${randomUUID()}`;
}

/** The expected identity hash (hex) of a user id. */
export const identityHash = (identitySecret: string, id: string) => hmacHex('sha256', identitySecret, id);

export function identityValid(identitySecret: string, id: string, hash: string): boolean {
  return safeEqual(hash.toLowerCase(), identityHash(identitySecret, id));
}
