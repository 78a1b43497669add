/**
 * Calls to Viber's REST bot API: `POST <apiRoot>/pa/<method>` with header `X-Viber-Auth-Token` and a
 * JSON body, answered `{"status": 0, "status_message": "ok", …}` (HTTP 200 even on failure).
 *
 * A `status` ≠ 0 becomes a ProviderError classified for the workers
 * (https://developers.viber.com/docs/api/rest-bot-api/#error-codes): 2 (invalid token) and 7–9 (the
 * bot blocked, gone or suspended) refuse the channel (state `error`); 5–6 (the receiver is not on
 * Viber or not subscribed) mark the client unreachable; 12 (too many requests) and unknown ones are
 * retried with backoff; the rest (bad data, bad URL…) are permanent. The token never reaches a log.
 */
import { httpRequest, statusError } from '../http.ts';
import { ProviderError } from '../provider.ts';
import type { ViberSettings } from './viber.settings.ts';
import { parseViberJson } from './viber-json.ts';

export const VIBER_AUTH_HEADER = 'X-Viber-Auth-Token';

export interface ViberApi {
  settings: ViberSettings;
  fetch: typeof fetch;
}

/** Viber's status codes. */
export const VIBER_STATUS = {
  ok: 0,
  invalidUrl: 1,
  invalidAuthToken: 2,
  badData: 3,
  missingData: 4,
  receiverNotRegistered: 5,
  receiverNotSubscribed: 6,
  publicAccountBlocked: 7,
  publicAccountNotFound: 8,
  publicAccountSuspended: 9,
  webhookNotSet: 10,
  receiverNoSuitableDevice: 11,
  tooManyRequests: 12,
  apiVersionNotSupported: 13,
  incompatibleWithVersion: 14,
} as const;

/** Backoff for status 12 (Viber sends no Retry-After): the worker's own backoff grows from here. */
const RATE_LIMIT_WAIT_MS = 1000;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The ProviderError for a `status` ≠ 0. */
export function viberError(method: string, status: number, statusMessage: string): ProviderError {
  const message = `Viber ${method} failed (status ${status}): ${statusMessage}`;
  switch (status) {
    case VIBER_STATUS.invalidAuthToken:
      return new ProviderError('INVALID_CREDENTIALS', `${message}; check the bot's auth token`, {
        retryable: false,
        channelError: true,
      });
    case VIBER_STATUS.publicAccountBlocked:
    case VIBER_STATUS.publicAccountNotFound:
    case VIBER_STATUS.publicAccountSuspended:
      return new ProviderError('ACCOUNT_UNAVAILABLE', message, { retryable: false, channelError: true });
    case VIBER_STATUS.receiverNotRegistered:
    case VIBER_STATUS.receiverNotSubscribed:
      return new ProviderError('CLIENT_UNREACHABLE', message, { retryable: false, clientUnreachable: true });
    case VIBER_STATUS.tooManyRequests:
      return new ProviderError('RATE_LIMITED', message, {
        retryable: true,
        retryAfterMs: RATE_LIMIT_WAIT_MS,
      });
    case VIBER_STATUS.invalidUrl:
    case VIBER_STATUS.badData:
    case VIBER_STATUS.missingData:
    case VIBER_STATUS.webhookNotSet:
    case VIBER_STATUS.receiverNoSuitableDevice:
    case VIBER_STATUS.apiVersionNotSupported:
    case VIBER_STATUS.incompatibleWithVersion:
      return new ProviderError('REJECTED', message, { retryable: false });
    default:
      // "generalError" and codes newer than this list: Viber's side, worth another try.
      return new ProviderError('UPSTREAM_ERROR', message, { retryable: true });
  }
}

/** Calls a method; returns the answer (with `message_token` as an exact string). */
export async function callViber(
  api: ViberApi,
  method: string,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const res = await httpRequest(api.fetch, `${api.settings.apiRoot}/pa/${method}`, {
    method: 'POST',
    headers: { [VIBER_AUTH_HEADER]: api.settings.authToken, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    timeoutMs: 30_000,
  });
  if (res.status < 200 || res.status >= 300)
    throw statusError(res, `Viber ${method} answered HTTP ${res.status}`);
  let answer: unknown;
  try {
    answer = parseViberJson(res.text);
  } catch {
    answer = null;
  }
  if (!isRecord(answer) || typeof answer.status !== 'number') {
    throw new ProviderError('BAD_RESPONSE', `Viber ${method} answered without a status`, { retryable: true });
  }
  if (answer.status !== VIBER_STATUS.ok) {
    const text = typeof answer.status_message === 'string' ? answer.status_message : 'failed';
    throw viberError(method, answer.status, text);
  }
  return answer;
}
