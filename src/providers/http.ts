/**
 * HTTP calls to messenger APIs with a timeout, classifying failures the way the outbound worker
 * retries them: network errors, 429 and 5xx are retryable (Retry-After honoured); other 4xx are not.
 */
import { ProviderError } from './provider.ts';

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
