/**
 * Twilio's request signature (https://www.twilio.com/docs/usage/security#validating-requests):
 * `X-Twilio-Signature = base64(HMAC-SHA1(authToken, url + each POST parameter's name and value,
 * sorted by name))`, over the exact URL Twilio called (scheme, host, port, path and query).
 */
import { createHmac } from 'node:crypto';
import { safeEqual } from '../signature.ts';

export const TWILIO_SIGNATURE_HEADER = 'x-twilio-signature';

/** The signature Twilio sends for a form POST of `params` to `url`. */
export function twilioSignature(authToken: string, url: string, params: Iterable<[string, string]>): string {
  const sorted = [...params].sort(([a, av], [b, bv]) =>
    a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0,
  );
  let data = url;
  for (const [key, value] of sorted) data += key + value;
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

/**
 * The spellings of a URL Twilio may have signed: as called, and with the default port added or
 * removed (Twilio's own validators accept both, since proxies differ on it).
 */
export function signedUrlVariants(url: string): string[] {
  const m = /^(https?):\/\/([^/:?#]+)(?::(\d+))?(.*)$/i.exec(url);
  if (!m) return [url];
  const [, scheme, host, port, rest] = m;
  const defaultPort = scheme!.toLowerCase() === 'https' ? '443' : '80';
  if (port === undefined) return [url, `${scheme}://${host}:${defaultPort}${rest}`];
  return port === defaultPort ? [url, `${scheme}://${host}${rest}`] : [url];
}

/** Whether `given` is Twilio's signature of the request, under any spelling of its URL. */
export function verifyTwilioSignature(
  authToken: string,
  url: string,
  params: [string, string][],
  given: string,
): boolean {
  return signedUrlVariants(url).some((u) => safeEqual(twilioSignature(authToken, u, params), given));
}
