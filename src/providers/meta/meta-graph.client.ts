/**
 * Calls to Meta's Graph API (WhatsApp Cloud API, Messenger Platform, Instagram messaging):
 * `<apiRoot>/<apiVersion>/<path>` with `Authorization: Bearer <token>`, answered with JSON or
 * `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`.
 *
 * Errors become ProviderErrors classified for the outbound worker and the attachment job:
 * - rate limits (WhatsApp 130429 throughput, 131056 pair rate, 80007 WABA; Graph 4, 17, 32, 613)
 *   are retryable, with backoff;
 * - an invalid or expired token (190, and 102/463/467 subcodes) is INVALID_CREDENTIALS with
 *   `channelError`: the channel goes to state `error` with the reason;
 * - the person cannot be written to (Messenger 551 and 1545041, WhatsApp 131026 undeliverable) marks
 *   the client unreachable;
 * - outside the 24-hour window (WhatsApp 131047, Messenger 10 / 2018278) is WINDOW_CLOSED, for good.
 * The token never reaches a message or a log line.
 */
import { type HttpResult, httpRequest, retryAfterMs } from '../http.ts';
import { ProviderError } from '../provider.ts';

export const DEFAULT_GRAPH_ROOT = 'https://graph.facebook.com';
export const DEFAULT_GRAPH_VERSION = 'v23.0';

export interface GraphApi {
  apiRoot: string;
  apiVersion: string;
  token: string;
  fetch: typeof fetch;
}

/** A Graph API error answer, with Meta's own code and subcode kept for callers. */
export class GraphError extends ProviderError {
  constructor(
    code: string,
    message: string,
    opts: ProviderError['opts'],
    readonly graphCode: number | null,
    readonly subcode: number | null,
  ) {
    super(code, message, opts);
    this.name = 'GraphError';
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const RATE_LIMITS = new Set([4, 17, 32, 613, 80007, 130429, 131056, 131048]);
const UNREACHABLE = new Set([551, 1545041, 131026, 2018108]);
const WINDOW_CLOSED = new Set([131047]);
const WINDOW_SUBCODES = new Set([2018278, 2534022]);

export function graphUrl(api: Pick<GraphApi, 'apiRoot' | 'apiVersion'>, path: string): string {
  return `${api.apiRoot}/${api.apiVersion}/${path.replace(/^\/+/, '')}`;
}

function redact(text: string, token: string): string {
  return token ? text.split(token).join('<token>') : text;
}

/** The ProviderError for a failed Graph answer. */
export function graphError(what: string, res: HttpResult, token: string): GraphError {
  const error = isRecord(res.json) && isRecord(res.json.error) ? res.json.error : {};
  const code = typeof error.code === 'number' ? error.code : null;
  const subcode = typeof error.error_subcode === 'number' ? error.error_subcode : null;
  const detail =
    isRecord(error.error_data) && typeof error.error_data.details === 'string'
      ? ` (${error.error_data.details})`
      : '';
  const text = redact(
    typeof error.message === 'string' ? `${error.message}${detail}` : `HTTP ${res.status}`,
    token,
  );
  const message = `Meta ${what} failed (${code ?? res.status}${subcode ? `/${subcode}` : ''}): ${text}`;
  const make = (c: string, opts: ProviderError['opts']) => new GraphError(c, message, opts, code, subcode);
  if (code === 190 || res.status === 401) {
    return make('INVALID_CREDENTIALS', { retryable: false, status: res.status, channelError: true });
  }
  if ((code !== null && RATE_LIMITS.has(code)) || res.status === 429) {
    return make('RATE_LIMITED', {
      retryable: true,
      status: res.status,
      // Meta rarely says when: without Retry-After the worker's exponential backoff applies.
      retryAfterMs: retryAfterMs(res.headers),
    });
  }
  if ((code !== null && UNREACHABLE.has(code)) || (subcode !== null && UNREACHABLE.has(subcode))) {
    return make('CLIENT_UNREACHABLE', { retryable: false, status: res.status, clientUnreachable: true });
  }
  if ((code !== null && WINDOW_CLOSED.has(code)) || (subcode !== null && WINDOW_SUBCODES.has(subcode))) {
    return make('WINDOW_CLOSED', { retryable: false, status: res.status });
  }
  if (res.status >= 500 || code === 1 || code === 2 || error.is_transient === true) {
    return make('UPSTREAM_ERROR', { retryable: true, status: res.status });
  }
  return make('REJECTED', { retryable: false, status: res.status });
}

export interface GraphCallOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  /** A JSON body, or a multipart form (uploads). */
  body?: Record<string, unknown> | FormData;
  query?: Record<string, string>;
  timeoutMs?: number;
}

/** Calls the Graph API and returns the JSON answer of a 2xx; throws a classified GraphError otherwise. */
export async function graphCall<T = Record<string, unknown>>(
  api: GraphApi,
  what: string,
  path: string,
  opts: GraphCallOptions = {},
): Promise<T> {
  const url = new URL(graphUrl(api, path));
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
  const multipart = opts.body instanceof FormData;
  let res: HttpResult;
  try {
    res = await httpRequest(api.fetch, url.toString(), {
      method: opts.method ?? (opts.body ? 'POST' : 'GET'),
      headers: {
        authorization: `Bearer ${api.token}`,
        ...(opts.body && !multipart && { 'content-type': 'application/json' }),
      },
      body: multipart ? (opts.body as FormData) : opts.body ? JSON.stringify(opts.body) : undefined,
      timeoutMs: opts.timeoutMs ?? 30_000,
    });
  } catch (err) {
    if (err instanceof ProviderError)
      throw new ProviderError(err.code, redact(err.message, api.token), err.opts);
    throw err;
  }
  if (res.status >= 200 && res.status < 300 && !(isRecord(res.json) && isRecord(res.json.error))) {
    return (res.json ?? {}) as T;
  }
  throw graphError(what, res, api.token);
}
