/**
 * Messenger content PostgreSQL could not store is cleaned where events enter the pipeline, so a
 * customer's message is never lost over a stray character (see lib/text.ts):
 *   - text, names and every other human-written string: NUL removed, unpaired surrogates → U+FFFD;
 *     a name left empty becomes null (the client then gets the placeholder name);
 *   - identifiers (the user's and the message's external ids, attachment refs), which must stay
 *     distinct: kept as they are when storable, else escaped deterministically (NUL → `%00`, an
 *     unpaired surrogate → `%uD800`), so the same id always maps to the same stored id.
 * Providers whose callers can fix their payload refuse such identifiers first (the api channel
 * answers 400 naming `body.from.id`); this is the net under every provider, polled ones included,
 * which have nobody to answer.
 */

import { sanitizeText, unstorableText } from '../lib/text.ts';
import type { ExternalUser, InboundEvent } from '../providers/provider.ts';

/** Keys whose values identify something: escaped, never altered in a way that could merge two. */
const IDENTIFIERS = new Set(['externalId', 'externalMessageId', 'upToExternalMessageId', 'ref']);
/** Keys of a person's description: emptied by cleaning → null. */
const PERSON_FIELDS = new Set(['username', 'firstName', 'lastName', 'phone', 'email', 'avatarUrl']);

/** The storable form of an identifier: unchanged when storable, else its bad characters escaped. */
export function storableIdentifier(id: string): string {
  if (!unstorableText(id)) return id;
  let out = '';
  for (let i = 0; i < id.length; i++) {
    const unit = id.charCodeAt(i);
    const high = unit >= 0xd800 && unit <= 0xdbff;
    const low = unit >= 0xdc00 && unit <= 0xdfff;
    const next = id.charCodeAt(i + 1);
    if (high && next >= 0xdc00 && next <= 0xdfff) {
      out += id.slice(i, i + 2); // a proper pair
      i++;
    } else if (unit === 0) out += '%00';
    else if (high || low) out += `%u${unit.toString(16).toUpperCase()}`;
    else out += id[i];
  }
  return out;
}

function clean(value: unknown, key: string | null, inPerson: boolean): unknown {
  if (typeof value === 'string') {
    if (key !== null && IDENTIFIERS.has(key)) return storableIdentifier(value);
    if (!unstorableText(value)) return value;
    const cleaned = sanitizeText(value);
    return cleaned === '' && inPerson && key !== null && PERSON_FIELDS.has(key) ? null : cleaned;
  }
  if (Array.isArray(value)) return value.map((v) => clean(v, null, false));
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const person = key === 'from' || key === 'profile';
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clean(v, k, person)]));
  }
  return value; // numbers, booleans, dates
}

/** An event with every string made storable (the same object when nothing needed it). */
export function sanitizeInboundEvent<E extends InboundEvent>(event: E): E {
  return needsCleaning(event) ? (clean(event, null, false) as E) : event;
}

/** A profile fetched from the messenger, made storable like an event's sender. */
export function sanitizeProfile(profile: ExternalUser | null): ExternalUser | null {
  return profile && needsCleaning(profile) ? (clean(profile, 'profile', true) as ExternalUser) : profile;
}

function needsCleaning(value: unknown): boolean {
  if (typeof value === 'string') return unstorableText(value) !== null;
  if (Array.isArray(value)) return value.some(needsCleaning);
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value).some(needsCleaning);
  }
  return false;
}
