/**
 * Calls to Twilio's REST API (`<apiRoot>/2010-04-01/Accounts/<AccountSid>/…`) with HTTP Basic auth
 * (Account SID : Auth Token) and form-encoded bodies, answered with JSON; errors are
 * `{"code", "message", "more_info", "status"}`.
 *
 * Failures become ProviderErrors classified for the workers: 401 / 20003 refuses the channel's
 * credentials (the channel goes to `error`); 429 / 20429 and 5xx are retried with backoff; 21610 (the
 * recipient replied STOP) marks the client unreachable; 63016 (outside WhatsApp's 24-hour window) is
 * permanent. The Auth Token never reaches an error message or a log.
 */
import { type HttpResult, httpRequest, retryAfterMs } from '../http.ts';
import { ProviderError } from '../provider.ts';
import type { TwilioSettings } from './twilio.settings.ts';

export interface TwilioApi {
  settings: TwilioSettings;
  fetch: typeof fetch;
}

/** Twilio error codes with a meaning of their own (https://www.twilio.com/docs/api/errors). */
export const TWILIO_ERRORS = {
  authentication: 20003,
  tooManyRequests: 20429,
  unsubscribedRecipient: 21610,
  outsideWindow: 63016,
} as const;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function basicAuth(settings: Pick<TwilioSettings, 'accountSid' | 'authToken'>): string {
  return `Basic ${Buffer.from(`${settings.accountSid}:${settings.authToken}`).toString('base64')}`;
}

export function accountUrl(settings: TwilioSettings, resource = ''): string {
  return `${settings.apiRoot}/2010-04-01/Accounts/${encodeURIComponent(settings.accountSid)}${resource}`;
}

/** The ProviderError for a failed answer. */
export function twilioError(what: string, res: HttpResult): ProviderError {
  const body = isRecord(res.json) ? res.json : {};
  const code = typeof body.code === 'number' ? body.code : null;
  const detail = typeof body.message === 'string' ? body.message : `HTTP ${res.status}`;
  const message = `Twilio ${what} failed (${code ?? res.status}): ${detail}`;
  const status = res.status;
  if (status === 401 || code === TWILIO_ERRORS.authentication) {
    return new ProviderError('INVALID_CREDENTIALS', `${message}; check the Account SID and Auth Token`, {
      retryable: false,
      channelError: true,
      status,
    });
  }
  if (status === 429 || code === TWILIO_ERRORS.tooManyRequests) {
    return new ProviderError('RATE_LIMITED', message, {
      retryable: true,
      status,
      retryAfterMs: retryAfterMs(res.headers),
    });
  }
  if (code === TWILIO_ERRORS.unsubscribedRecipient) {
    return new ProviderError('CLIENT_UNREACHABLE', message, {
      retryable: false,
      clientUnreachable: true,
      status,
    });
  }
  if (code === TWILIO_ERRORS.outsideWindow) {
    return new ProviderError(
      'WINDOW_CLOSED',
      `${message}; WhatsApp takes free-form messages only within 24 hours of the customer's last message`,
      { retryable: false, status },
    );
  }
  if (status >= 500) return new ProviderError('UPSTREAM_ERROR', message, { retryable: true, status });
  return new ProviderError('REJECTED', message, { retryable: false, status });
}

/** Calls a resource of the account: a GET, or a POST of `form`; returns the JSON answer. */
export async function callTwilio(
  api: TwilioApi,
  what: string,
  resource: string,
  form?: URLSearchParams,
): Promise<Record<string, unknown>> {
  const res = await httpRequest(api.fetch, accountUrl(api.settings, resource), {
    method: form ? 'POST' : 'GET',
    headers: {
      authorization: basicAuth(api.settings),
      accept: 'application/json',
      ...(form && { 'content-type': 'application/x-www-form-urlencoded' }),
    },
    ...(form && { body: form.toString() }),
    timeoutMs: 30_000,
  });
  if (res.status >= 200 && res.status < 300 && isRecord(res.json)) return res.json;
  if (res.status >= 200 && res.status < 300) {
    throw new ProviderError('BAD_RESPONSE', `Twilio ${what} answered without a JSON object`, {
      retryable: true,
    });
  }
  throw twilioError(what, res);
}
