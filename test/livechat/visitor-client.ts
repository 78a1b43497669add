/** A live-chat visitor without a browser: the widget's protocol (HTTP + the `centrifuge` SDK) from Node. */
import { randomUUID } from 'node:crypto';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { waitFor } from '../helpers/wait.ts';

export interface VisitorOptions {
  origin?: string;
  identity?: { id: string; name?: string; email?: string; hash: string };
  name?: string;
  email?: string;
  visitorId?: string;
}

export async function visitorRequest(
  baseUrl: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; origin?: string } = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(opts.body !== undefined && { 'content-type': 'application/json' }),
      ...(opts.token && { authorization: `Bearer ${opts.token}` }),
      ...(opts.origin && { origin: opts.origin }),
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export async function connectVisitor(baseUrl: string, channelId: string, opts: VisitorOptions = {}) {
  const issued = await visitorRequest(baseUrl, 'POST', `/livechat/${channelId}/visitors`, {
    origin: opts.origin,
    body: {
      pageUrl: 'https://shop.example/pricing',
      referrer: 'https://search.example/?q=shop',
      ...(opts.visitorId && { visitorId: opts.visitorId }),
      ...(opts.identity && { identity: opts.identity }),
      ...(opts.name && { name: opts.name }),
      ...(opts.email && { email: opts.email }),
    },
  });
  if (issued.status !== 200)
    throw new Error(`visitor refused: ${issued.status} ${JSON.stringify(issued.body)}`);
  const { token, visitorId } = issued.body as { token: string; visitorId: string };
  const events: any[] = [];
  const centrifuge = new Centrifuge(`${baseUrl.replace(/^http/, 'ws')}/connection/websocket`, {
    websocket: class extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers: opts.origin ? { origin: opts.origin } : {} });
      }
    },
    token,
    data: { channel: channelId },
    minReconnectDelay: 50,
    maxReconnectDelay: 200,
  });
  centrifuge.on('publication', (ctx) => events.push(ctx.data));
  await new Promise<void>((resolve, reject) => {
    centrifuge.once('connected', () => resolve());
    centrifuge.once('disconnected', (ctx) => reject(new Error(`disconnected ${ctx.code} ${ctx.reason}`)));
    centrifuge.connect();
  });
  return {
    visitorId,
    token,
    centrifuge,
    events,
    send(text: string, messageId: string = randomUUID()) {
      return visitorRequest(baseUrl, 'POST', `/livechat/${channelId}/messages`, {
        token,
        origin: opts.origin,
        body: { event: 'message', messageId, text },
      });
    },
    command(body: unknown) {
      return visitorRequest(baseUrl, 'POST', `/livechat/${channelId}/messages`, {
        token,
        origin: opts.origin,
        body,
      });
    },
    /** Uploads one file (multipart part `file`), as the widget does before naming it in a message. */
    async upload(bytes: Uint8Array | string, filename: string, type: string) {
      const form = new FormData();
      form.append('file', new Blob([bytes], { type }), filename);
      const res = await fetch(`${baseUrl}/livechat/${channelId}/files`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, ...(opts.origin && { origin: opts.origin }) },
        body: form,
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    history(before?: string) {
      const q = before ? `?limit=2&before=${before}` : '?limit=2';
      return visitorRequest(baseUrl, 'GET', `/livechat/${channelId}/messages${q}`, {
        token,
        origin: opts.origin,
      });
    },
    waitFor(type: string, match: (e: any) => boolean = () => true, timeoutMs = 5000) {
      return waitFor(
        () => events.find((e) => e.type === type && match(e)),
        timeoutMs,
        `visitor event ${type}`,
      );
    },
    close: () => centrifuge.disconnect(),
  };
}
