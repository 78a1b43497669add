/**
 * Calls to the Telegram Bot API: `POST <apiRoot>/bot<token>/<method>` with a JSON or multipart body,
 * answered `{"ok": true, "result"}` or `{"ok": false, "error_code", "description", "parameters"}`.
 *
 * Failures become ProviderErrors classified for the outbound worker (429 honours
 * `parameters.retry_after`; 5xx and network errors are retryable; 401 is a bad token; a 403 for a user
 * who blocked the bot marks the client unreachable). The token is part of every URL: it never reaches
 * an error message or a log.
 */
import { type HttpResult, httpRequest, statusError } from '../http.ts';
import { ProviderError } from '../provider.ts';
import type { TelegramSettings } from './telegram.settings.ts';

/** What every call needs: where the API is, the token, and the fetch to use. */
export interface TelegramApi {
  settings: TelegramSettings;
  fetch: typeof fetch;
}

export interface CallOptions {
  timeoutMs?: number;
  /** Aborts the call (long polls); combined with the timeout. */
  signal?: AbortSignal;
}

/** A Telegram `ok: false` answer, with Telegram's own code and description kept for callers. */
export class TelegramError extends ProviderError {
  constructor(
    code: string,
    message: string,
    opts: ProviderError['opts'],
    readonly errorCode: number,
    readonly description: string,
  ) {
    super(code, message, opts);
    this.name = 'TelegramError';
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** 403 descriptions meaning this user (or chat) can no longer be written to by the bot. */
const UNREACHABLE = /blocked|deactivated|kicked|can't initiate conversation|not a member/i;

/** Removes the token (and `bot<token>` URL segments) from a text. */
export function redactToken(text: string, token: string): string {
  if (!token) return text;
  return text.split(`bot${token}`).join('bot<token>').split(token).join('<token>');
}

export function methodUrl(settings: TelegramSettings, method: string): string {
  return `${settings.apiRoot}/bot${settings.token}/${method}`;
}

export function fileUrl(settings: TelegramSettings, filePath: string): string {
  const path = filePath.split('/').map(encodeURIComponent).join('/');
  return `${settings.apiRoot}/file/bot${settings.token}/${path}`;
}

/** The signal for one call: the caller's (if any) and a timeout, whichever fires first. */
export function callSignal(timeoutMs: number, signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** Re-throws a ProviderError from httpRequest (network failures) with the token redacted. */
export function redactError(err: unknown, token: string): never {
  if (err instanceof ProviderError) {
    throw new ProviderError(err.code, redactToken(err.message, token), err.opts);
  }
  throw new ProviderError('NETWORK', redactToken(`request failed: ${(err as Error).message}`, token), {
    retryable: true,
  });
}

/** The ProviderError for a failed answer (HTTP status or `ok: false`). */
export function telegramError(method: string, res: HttpResult, token: string): TelegramError {
  const body = isRecord(res.json) ? res.json : {};
  const errorCode = typeof body.error_code === 'number' ? body.error_code : res.status;
  const description = redactToken(
    typeof body.description === 'string' ? body.description : `HTTP ${res.status}`,
    token,
  );
  const message = `Telegram ${method} failed (${errorCode}): ${description}`;
  if (errorCode === 401) {
    return new TelegramError(
      'INVALID_CREDENTIALS',
      `${message}; check the bot token`,
      { retryable: false, status: 401 },
      errorCode,
      description,
    );
  }
  if (errorCode === 403 && UNREACHABLE.test(description)) {
    return new TelegramError(
      'CLIENT_UNREACHABLE',
      message,
      { retryable: false, clientUnreachable: true, status: 403 },
      errorCode,
      description,
    );
  }
  const parameters = isRecord(body.parameters) ? body.parameters : {};
  // statusError classifies by status: use Telegram's error_code (a 200 can carry ok: false).
  const status = errorCode >= 400 ? errorCode : res.status >= 400 ? res.status : 502;
  const classified = statusError({ ...res, status }, message, parameters.retry_after);
  return new TelegramError(classified.code, message, classified.opts, errorCode, description);
}

/** Calls a method with JSON parameters (or a multipart FormData) and returns its `result`. */
export async function callTelegram<T = unknown>(
  api: TelegramApi,
  method: string,
  params: Record<string, unknown> | FormData = {},
  opts: CallOptions = {},
): Promise<T> {
  const { token } = api.settings;
  const multipart = params instanceof FormData;
  let res: HttpResult;
  try {
    res = await httpRequest(api.fetch, methodUrl(api.settings, method), {
      method: 'POST',
      ...(multipart ? {} : { headers: { 'content-type': 'application/json' } }),
      body: multipart ? params : JSON.stringify(params),
      signal: callSignal(opts.timeoutMs ?? 30_000, opts.signal),
    });
  } catch (err) {
    redactError(err, token);
  }
  if (res.status >= 200 && res.status < 300 && isRecord(res.json) && res.json.ok === true) {
    return res.json.result as T;
  }
  throw telegramError(method, res, token);
}
