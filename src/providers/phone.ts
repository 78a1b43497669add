/**
 * Phone numbers as one identity: every messenger that names a person by phone number (WhatsApp
 * Cloud `wa_id`, Twilio `From=whatsapp:+1…`, SMS, Viber contacts) gives the provider a different
 * spelling of the same number. Providers pass them through `toE164` and use the result as the
 * client's external id, so `+1 555 123 4567`, `whatsapp:+15551234567` and `15551234567` are one
 * client, never two clients or two open sessions.
 *
 * Messengers send international numbers (with or without the `+`), so a number without a country
 * prefix is read as international unless a default country is given for national numbers.
 */
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/min';

/** Channel prefixes Twilio and others put before the number (`whatsapp:+1…`, `tel:+1…`). */
const SCHEME = /^(?:whatsapp|sms|mms|tel|viber|messenger):/i;

export interface PhoneOptions {
  /** Read a number without an international prefix as national to this country (e.g. "GB"). */
  defaultCountry?: CountryCode;
}

/**
 * The E.164 form (`+15551234567`) of a phone number in any usual spelling, or null when the text
 * is not a possible phone number (then the caller keeps the messenger's id as it is).
 */
export function toE164(input: string | null | undefined, opts: PhoneOptions = {}): string | null {
  if (typeof input !== 'string') return null;
  // Parsing costs tens of microseconds, on every webhook: the same senders come back all day.
  const key = `${opts.defaultCountry ?? ''}|${input}`;
  const known = CACHE.get(key);
  if (known !== undefined) return known;
  const e164 = parseE164(input, opts);
  if (CACHE.size >= CACHE_SIZE) CACHE.delete(CACHE.keys().next().value!);
  CACHE.set(key, e164);
  return e164;
}

/** Recent answers of toE164, oldest first (a pure function: nothing goes stale). */
const CACHE = new Map<string, string | null>();
const CACHE_SIZE = 10_000;

function parseE164(input: string, opts: PhoneOptions): string | null {
  let text = input.trim().replace(SCHEME, '').trim();
  if (!text || /[a-z@]/i.test(text)) return null;
  text = text.replace(/[\s().\-\u00a0]/g, '');
  if (text.startsWith('00')) text = `+${text.slice(2)}`;
  if (!/^\+?\d{4,17}$/.test(text)) return null;
  const parsed = text.startsWith('+')
    ? parsePhoneNumberFromString(text)
    : opts.defaultCountry
      ? parsePhoneNumberFromString(text, opts.defaultCountry)
      : parsePhoneNumberFromString(`+${text}`);
  if (!parsed?.isPossible()) return null;
  return parsed.number;
}

/** True when two spellings name the same phone number. */
export function samePhone(a: string, b: string, opts: PhoneOptions = {}): boolean {
  const x = toE164(a, opts);
  return x !== null && x === toE164(b, opts);
}

/** The digits without `+` (WhatsApp Cloud's `to` / `wa_id` form) of an E.164 number. */
export function e164Digits(e164: string): string {
  return e164.startsWith('+') ? e164.slice(1) : e164;
}
