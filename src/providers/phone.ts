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
