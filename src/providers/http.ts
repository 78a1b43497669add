/**
 * HTTP calls to messenger APIs with a timeout, classifying failures the way the outbound worker
 * retries them: network errors, 429 and 5xx are retryable (Retry-After honoured); other 4xx are not.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { type LoadedAttachment, ProviderError } from './provider.ts';

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export function retryAfterMs(headers: Headers, bodySeconds?: unknown): number | undefined {
  if (typeof bodySeconds === 'number' && bodySeconds >= 0) return bodySeconds * 1000;
  const h = headers.get('retry-after');
  if (!h) return undefined;
  const secs = Number(h);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Performs the request; network failures and timeouts become retryable ProviderErrors. */
export async function httpRequest(
  fetchFn: typeof fetch,
  url: string,
  init: RequestInit & { timeoutMs?: number },
): Promise<HttpResult> {
  let res: Response;
  try {
    res = await fetchFn(url, {
      ...init,
      signal: init.signal ?? AbortSignal.timeout(init.timeoutMs ?? 30_000),
    });
  } catch (err) {
    if (err instanceof ProviderError) throw err; // e.g. refused by the fetch guard: permanent
    throw new ProviderError('NETWORK', `request failed: ${(err as Error).message}`, { retryable: true });
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** The ProviderError for a non-2xx answer, by HTTP status. */
export function statusError(
  result: HttpResult,
  description: string,
  retryAfterBody?: unknown,
): ProviderError {
  const { status } = result;
  if (status === 429) {
    return new ProviderError('RATE_LIMITED', description, {
      retryable: true,
      status,
      retryAfterMs: retryAfterMs(result.headers, retryAfterBody),
    });
  }
  if (status >= 500) return new ProviderError('UPSTREAM_ERROR', description, { retryable: true, status });
  return new ProviderError('REJECTED', description, { retryable: false, status });
}

/**
 * Opens a file by URL as a stream (attachments, avatars): network failures, 429 and 5xx are
 * retryable, other answers permanent; a refusal by the fetch guard stays permanent.
 */
export async function download(
  fetchFn: typeof fetch,
  url: string,
  headers: Record<string, string> = {},
): Promise<LoadedAttachment> {
  let res: Response;
  try {
    res = await fetchFn(url, { headers, signal: AbortSignal.timeout(60_000) });
  } catch (err) {
    if (err instanceof ProviderError) throw err; // refused by the fetch guard: permanent
    throw new ProviderError('NETWORK', `download failed: ${(err as Error).message}`, { retryable: true });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw new ProviderError('DOWNLOAD_FAILED', `download answered ${res.status}`, {
      retryable: res.status >= 500 || res.status === 429,
      status: res.status,
    });
  }
  const size = Number(res.headers.get('content-length'));
  return {
    stream: Readable.fromWeb(res.body as WebReadableStream),
    mimeType: res.headers.get('content-type'),
    size: Number.isFinite(size) && size > 0 ? size : null,
  };
}
