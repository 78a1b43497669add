/**
 * The widget's HTTP side: `/livechat/:channelId/…` on the Omniline server the script came from
 * (cross-origin from the host page; the server answers CORS for the channel's allowed origins).
 * The visitor token (15 minutes) is renewed before it runs out and once more on a 401 that says it
 * expired. Nothing here touches the DOM.
 */
import type { VisitorMessage, VisitorUpload } from '../../../src/providers/livechat/visitor-events';

export type PrechatField = 'name' | 'email' | 'message';

export interface WidgetConfig {
  channelId: string;
  name: string;
  title: string | null;
  greeting: string | null;
  color: string;
  position: 'right' | 'left';
  language: string;
  prechatFields: PrechatField[];
  identityVerification: boolean;
  online: boolean;
  withinBusinessHours: boolean;
  /** The largest file a visitor may send (bytes); 0: uploads are off. */
  maxUploadBytes?: number;
  /** The types a file may be (judged by its content on the server). */
  uploadTypes?: string[];
}

export interface Identity {
  id: string;
  name?: string;
  email?: string;
  hash: string;
}

export interface HistoryPage {
  items: VisitorMessage[];
  nextCursor: string | null;
  openSessionId: string | null;
}

/** An answer of the server that is not a success: its error code (`ORIGIN_NOT_ALLOWED`, …) and status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class LivechatApi {
  #token: string | null = null;
  #expiresAt = 0;
  #issuing: Promise<string> | null = null;
  visitorId: string | null;

  constructor(
    readonly base: string,
    readonly channelId: string,
    private readonly visitor: {
      storedId: () => string | null;
      store: (visitorId: string) => void;
      identity: () => Identity | null;
      profile: () => { name?: string; email?: string };
    },
  ) {
    this.visitorId = visitor.storedId();
  }

  get path(): string {
    return `${this.base}/livechat/${encodeURIComponent(this.channelId)}`;
  }

  config(): Promise<WidgetConfig> {
    return this.#request<WidgetConfig>('GET', '/config', undefined, false);
  }

  /** A valid token: the one in hand, or a new one (the same visitor id, the current profile). */
  token(force = false): Promise<string> {
    if (!force && this.#token && this.#expiresAt - Date.now() > 60_000) return Promise.resolve(this.#token);
    this.#issuing ??= this.#issue().finally(() => {
      this.#issuing = null;
    });
    return this.#issuing;
  }

  async #issue(): Promise<string> {
    const identity = this.visitor.identity();
    const profile = this.visitor.profile();
    const answer = await this.#request<{ visitorId: string; token: string; expiresAt: string }>(
      'POST',
      '/visitors',
      {
        ...(this.visitorId && !identity && { visitorId: this.visitorId }),
        ...(identity && { identity }),
        ...(profile.name && { name: profile.name }),
        ...(profile.email && { email: profile.email }),
        pageUrl: location.href.slice(0, 2000),
        ...(document.referrer && { referrer: document.referrer.slice(0, 2000) }),
      },
      false,
    );
    this.visitorId = answer.visitorId;
    if (!identity) this.visitor.store(answer.visitorId);
    this.#token = answer.token;
    this.#expiresAt = Date.parse(answer.expiresAt);
    return answer.token;
  }

  /** The visitor's message (text, files or both); the same `messageId` sent again is stored once. */
  sendMessage(messageId: string, text: string, files: string[] = []) {
    return this.#request<{ ok: boolean; stored: number; duplicates: number }>('POST', '/messages', {
      event: 'message',
      messageId,
      ...(text && { text }),
      ...(files.length > 0 && { files }),
    });
  }

  command(body: { event: 'read'; messageId?: string } | { event: 'typing' } | { event: 'close' }) {
    return this.#request<unknown>('POST', '/messages', body);
  }

  history(before: string | null, limit = 30): Promise<HistoryPage> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before) q.set('before', before);
    return this.#request<HistoryPage>('GET', `/messages?${q}`);
  }

  rate(sessionId: string, rating: number, comment: string) {
    return this.#request<unknown>('POST', '/rating', {
      sessionId,
      rating,
      ...(comment.trim() && { comment: comment.trim() }),
    });
  }

  /** A file of the visitor's, stored before the message that names it (`files`). */
  upload(file: File): Promise<VisitorUpload> {
    const form = new FormData();
    form.append('file', file, file.name);
    return this.#request<VisitorUpload>('POST', '/files', form);
  }

  async #request<T>(method: string, path: string, body?: unknown, auth = true, retried = false): Promise<T> {
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = `Bearer ${await this.token()}`;
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${this.path}${path}`, { method, headers, body: payload, credentials: 'omit' });
    const text = await res.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {}
    if (res.ok) return data as T;
    const error = (data as { error?: { code?: string; message?: string } } | null)?.error;
    const code = error?.code ?? `HTTP_${res.status}`;
    if (auth && !retried && res.status === 401 && code === 'VISITOR_TOKEN_EXPIRED') {
      await this.token(true);
      return this.#request<T>(method, path, body, auth, true);
    }
    throw new ApiError(res.status, code, error?.message ?? res.statusText);
  }
}
