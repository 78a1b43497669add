/** The REST API (/api/v1) with the signed-in operator's token; errors keep the server's code. */
import type { Chat, Message } from './types';

const BASE = '/api/v1';
const TOKEN_KEY = 'omniline.desk.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let token: string | null = sessionStorage.getItem(TOKEN_KEY);
/** Called when the server refuses the token (expired, revoked): the desk shows it and signs out. */
let onUnauthorized: () => void = () => {};

export const auth = {
  get token() {
    return token;
  },
  set(t: string | null) {
    token = t;
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  onUnauthorized(fn: () => void) {
    onUnauthorized = fn;
  },
};

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(BASE + path, { method, headers, body: payload });
  } catch {
    throw new ApiError(0, 'UNREACHABLE', 'the server cannot be reached');
  }
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
  if (!res.ok) {
    const err = new ApiError(
      res.status,
      data?.error?.code ?? `HTTP_${res.status}`,
      data?.error?.message ?? res.statusText,
    );
    if (res.status === 401 && token && !path.startsWith('/auth/login')) onUnauthorized();
    throw err;
  }
  return data as T;
}

/** A file the API serves only with the token, as an object URL for <img> or a download. */
export async function fileUrl(fileId: string): Promise<string> {
  const res = await fetch(`${BASE}/files/${encodeURIComponent(fileId)}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  if (!res.ok) throw new ApiError(res.status, 'FILE', res.statusText);
  return URL.createObjectURL(await res.blob());
}

export interface Page<T> {
  items: T[];
  total: number;
}
export interface CursorPage<T> extends Page<T> {
  nextCursor: string | null;
}

export const rest = {
  chats: (list: 'mine' | 'queue' | 'closed') => api<Page<Chat>>('GET', `/desk/chats?list=${list}`),
  chat: (id: string) => api<Chat>('GET', `/desk/chats/${id}`),
  messages: (id: string, cursor?: string | null) =>
    api<CursorPage<Message>>('GET', `/sessions/${id}/messages?limit=50${cursor ? `&cursor=${cursor}` : ''}`),
  actions: (id: string) => api<{ actions: string[] }>('GET', `/sessions/${id}/actions`),
};
