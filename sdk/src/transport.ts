import { OmnilineError } from './errors.ts';

export interface SystemOptions {
  /** The server, e.g. `http://localhost:3000` (the `/api/v1` prefix is added). */
  url: string;
  /** A bearer token: a login's, or one issued with `POST /api/v1/users/:id/tokens`. */
  token: string;
  /** Another fetch (tests, proxies); the global one by default. */
  fetch?: typeof fetch;
  /** Called after each answer (tracing, assertions in tests). */
  onResponse?: (event: ResponseEvent) => void;
}

export interface ResponseEvent {
  method: string;
  path: string;
  status: number;
  body: unknown;
}

/** One JSON-over-HTTP call site for the whole SDK: it adds auth and turns every refusal into an OmnilineError. */
export class Transport {
  readonly base: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;
  readonly #onResponse: SystemOptions['onResponse'];

  constructor(readonly options: SystemOptions) {
    if (!options.url) throw new OmnilineError('MISSING_URL', 'createSystem: `url` is required', 0);
    if (!options.token) throw new OmnilineError('MISSING_TOKEN', 'createSystem: `token` is required', 0);
    this.base = `${options.url.replace(/\/+$/, '')}/api/v1`;
    this.#headers = { authorization: `Bearer ${options.token}`, accept: 'application/json' };
    // Not `fetch` itself: called as this.#fetch(…) a browser's fetch throws "Illegal invocation"
    // (it must be called on the window), so the global one is called through a plain function.
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#onResponse = options.onResponse;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const where = `${method} /api/v1${path}`;
    let res: Response;
    try {
      res = await this.#fetch(this.base + path, {
        method,
        headers:
          body === undefined || body instanceof FormData
            ? this.#headers
            : { ...this.#headers, 'content-type': 'application/json' },
        body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
      });
    } catch (err) {
      throw new OmnilineError('NETWORK_ERROR', `${where}: ${(err as Error).message}`, 0, undefined, where);
    }
    const text = await res.text();
    let parsed: unknown = null;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    this.#onResponse?.({ method, path, status: res.status, body: parsed });
    if (res.ok) return parsed as T;
    const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)
      ?.error;
    if (error && typeof error.code === 'string') {
      throw new OmnilineError(
        error.code,
        String(error.message ?? error.code),
        res.status,
        error.details,
        where,
      );
    }
    throw new OmnilineError(
      `HTTP_${res.status}`,
      `${where} answered ${res.status}`,
      res.status,
      parsed,
      where,
    );
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }
}

export const enc = encodeURIComponent;
