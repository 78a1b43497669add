/**
 * Calls to the Test messenger's API at `apiRoot`, every one with `Authorization: Bearer <token>`:
 *
 *   GET  {apiRoot}/me               → {"id": "<page id>", "name"}           (whose token is this)
 *   GET  {apiRoot}/<profileId>      → {"first_name", "last_name", "photo_url"} (404: unknown user)
 *   POST {apiRoot}/files            multipart, field "file" → {"uploadUrl"}
 *   POST {apiRoot}/messages         JSON TestOutgoingMessage, header `Idempotency-Key` → {"id"}
 *   GET  <uploadUrl>                the attachment's bytes (the token only goes to apiRoot's origin)
 *
 * Errors come as `{"error": {"code", "message"}}` with an HTTP status. They become ProviderErrors the
 * way the outbound worker retries them (src/providers/http.ts): network errors, 429 and 5xx are
 * retryable, 401 is a bad token, other 4xx are permanent. The token is in a header, never in a URL,
 * so it cannot reach an error message or a log line.
 */
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { type HttpResult, httpRequest, statusError } from '../../src/providers/http.ts';
import { type LoadedAttachment, ProviderError } from '../../src/providers/provider.ts';
import type { TestAttachment } from './converter.ts';
import type { TestSettings } from './settings.ts';

/** The body of `POST /messages`: the inbound shape without the id, which the messenger assigns. */
export interface TestOutgoingMessage {
  /** Our page id (the channel's Source). */
  sender: string;
  /** The user's id in the messenger (the client's externalId). */
  recipient: string;
  message: string | null;
  /** Unix time in milliseconds. */
  timestamp: number;
  attachments: TestAttachment[];
}

export interface TestProfile {
  first_name?: string | null;
  last_name?: string | null;
  photo_url?: string | null;
}

export interface TestApi {
  settings: TestSettings;
  fetch: typeof fetch;
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function auth(api: TestApi): Record<string, string> {
  return { authorization: `Bearer ${api.settings.token}` };
}

/** The ProviderError for a non-2xx answer, with the messenger's own error text when it gave one. */
function apiError(what: string, res: HttpResult): ProviderError {
  const error = isRecord(res.json) && isRecord(res.json.error) ? res.json.error : {};
  const detail = typeof error.message === 'string' ? error.message : `HTTP ${res.status}`;
  const message = `Test ${what} failed (${res.status}): ${detail}`;
  if (res.status === 401) {
    return new ProviderError('INVALID_CREDENTIALS', `${message}; check the page token`, {
      retryable: false,
      status: 401,
    });
  }
  return statusError(res, message);
}

const ok = (res: HttpResult) => res.status >= 200 && res.status < 300;

/** The page the token belongs to: its id is the channel's Source. */
export async function getMe(api: TestApi): Promise<{ id: string; name: string | null }> {
  const res = await httpRequest(api.fetch, `${api.settings.apiRoot}/me`, {
    method: 'GET',
    headers: auth(api),
    timeoutMs: 15_000,
  });
  if (!ok(res)) throw apiError('GET /me', res);
  if (!isRecord(res.json) || typeof res.json.id !== 'string' || res.json.id === '') {
    throw new ProviderError('BAD_RESPONSE', 'Test GET /me answered without a page id', { retryable: true });
  }
  return { id: res.json.id, name: typeof res.json.name === 'string' ? res.json.name : null };
}

/** A user's profile; null when the messenger does not know the user. */
export async function getProfile(api: TestApi, profileId: string): Promise<TestProfile | null> {
  const res = await httpRequest(api.fetch, `${api.settings.apiRoot}/${encodeURIComponent(profileId)}`, {
    method: 'GET',
    headers: auth(api),
    timeoutMs: 5_000,
  });
  if (res.status === 404) return null;
  if (!ok(res)) throw apiError('GET /<profileId>', res);
  return isRecord(res.json) ? (res.json as TestProfile) : null;
}

/** Uploads a file for an outgoing message; returns its download URL. */
export async function uploadFile(
  api: TestApi,
  data: Buffer,
  name: string,
  mimeType: string,
): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(data)], { type: mimeType }), name);
  const res = await httpRequest(api.fetch, `${api.settings.apiRoot}/files`, {
    method: 'POST',
    headers: auth(api),
    body: form,
    timeoutMs: 60_000,
  });
  if (!ok(res)) throw apiError('POST /files', res);
  if (!isRecord(res.json) || typeof res.json.uploadUrl !== 'string') {
    throw new ProviderError('BAD_RESPONSE', 'Test POST /files answered without an uploadUrl', {
      retryable: true,
    });
  }
  return res.json.uploadUrl;
}

/**
 * Sends a message; returns the messenger's id of it. `idempotencyKey` (our message id) makes the
 * messenger answer a repeated send with the first message instead of sending it again.
 */
export async function postMessage(
  api: TestApi,
  body: TestOutgoingMessage,
  idempotencyKey: string,
): Promise<{ id: string }> {
  const res = await httpRequest(api.fetch, `${api.settings.apiRoot}/messages`, {
    method: 'POST',
    headers: { ...auth(api), 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    body: JSON.stringify(body),
    timeoutMs: 15_000,
  });
  if (!ok(res)) throw apiError('POST /messages', res);
  if (!isRecord(res.json) || typeof res.json.id !== 'string' || res.json.id === '') {
    // The message may have been sent: a retry is safe, as the idempotency key de-duplicates it.
    throw new ProviderError('BAD_RESPONSE', 'Test POST /messages answered without a message id', {
      retryable: true,
    });
  }
  return { id: res.json.id };
}

/** Opens an attachment's download URL as a stream. */
export async function download(api: TestApi, url: string): Promise<LoadedAttachment> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new ProviderError('BAD_ATTACHMENT_URL', 'the attachment has no valid URL', { retryable: false });
  }
  // The page token is for the messenger only: never send it to another host.
  const sameOrigin = target.origin === new URL(api.settings.apiRoot).origin;
  let res: Response;
  try {
    res = await api.fetch(url, {
      headers: sameOrigin ? auth(api) : {},
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    throw new ProviderError('NETWORK', `download failed: ${(err as Error).message}`, { retryable: true });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new ProviderError('DOWNLOAD_FAILED', `Test download answered ${res.status}`, {
      retryable: res.status >= 500 || res.status === 429,
      status: res.status,
    });
  }
  const size = Number(res.headers.get('content-length'));
  return {
    stream: Readable.fromWeb(res.body as ReadableStream),
    mimeType: res.headers.get('content-type'),
    size: Number.isFinite(size) && size > 0 ? size : null,
  };
}
