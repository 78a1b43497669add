/** Settings checks every provider shares (`settings.apiRoot`, required strings). */
import { InvalidField } from '../errors.ts';

/**
 * An API root (`https://api.telegram.org`, a local fake in tests): an http(s) URL without a query,
 * fragment, credentials or trailing slash; `fallback` when absent.
 */
export function apiRootSetting(value: unknown, fallback: string, field = 'settings.apiRoot'): string {
  if (value === undefined || value === null || value === '') return fallback;
  const reason = 'must be an http(s) URL without a query, fragment or trailing slash';
  if (typeof value !== 'string') throw new InvalidField(field, reason);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidField(field, reason);
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.search ||
    url.hash ||
    url.username ||
    url.password ||
    value.endsWith('/')
  ) {
    throw new InvalidField(field, reason);
  }
  return value;
}

/** A required string setting matching `pattern`, else InvalidField with `hint`. */
export function requiredSetting(value: unknown, field: string, pattern: RegExp, hint: string): string {
  if (typeof value !== 'string' || !pattern.test(value))
    throw new InvalidField(field, `is required: ${hint}`);
  return value;
}

/** An optional string setting of at most `max` characters; null when absent. */
export function optionalSetting(value: unknown, field: string, max: number): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || value.length > max)
    throw new InvalidField(field, `must be a string of at most ${max} characters`);
  return value;
}
