/**
 * A local stand-in for the made-up "Test" messenger (node:http on a random port), speaking the wire
 * format of api-client.ts: pages with tokens, user profiles, file downloads and uploads, and sends
 * (de-duplicated on `Idempotency-Key`). It records what it is sent, exactly as it arrived.
 * It also builds the webhook deliveries the real messenger would POST to Omniline.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestIncomingMessage } from './converter.ts';

export interface FakePage {
  id: string;
  name: string;
  token: string;
}

export interface FakeUser {
  id: string;
  first_name: string;
  last_name: string;
  photo_url?: string;
}

/** A `POST /messages` as received. */
export interface SentMessage {
  page: FakePage;
  headers: IncomingMessage['headers'];
  /** The JSON body, parsed. */
  body: unknown;
  /** The id the fake answered. */
  id: string;
}

export interface UploadedFile {
  page: FakePage;
  name: string;
  type: string;
  data: Buffer;
  uploadUrl: string;
}

interface StoredFile {
  data: Buffer;
  type: string;
}

export class FakeTestMessenger {
  readonly sent: SentMessage[] = [];
  readonly uploads: UploadedFile[] = [];
  /** Every request: method, path and whether it carried a valid token. */
  readonly requests: { method: string; path: string; authorized: boolean }[] = [];
  readonly #pages = new Map<string, FakePage>();
  readonly #users = new Map<string, FakeUser>();
  readonly #failingProfiles = new Map<string, number>();
  readonly #files = new Map<string, StoredFile>();
  readonly #byIdempotencyKey = new Map<string, string>();
  #seq = 0;

  private constructor(
    private readonly server: Server,
    /** The API root to put in a channel's `apiRoot` setting. */
    readonly apiRoot: string,
  ) {}

  static async start(): Promise<FakeTestMessenger> {
    let self: FakeTestMessenger | undefined;
    const server = createServer((req, res) => {
      self!
        .#handle(req, res)
        .catch((err: Error) => json(res, 500, { error: { code: 'FAKE', message: err.message } }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    self = new FakeTestMessenger(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A new page (a business account on the messenger) with its own token. */
  addPage(name = 'Test page'): FakePage {
    const n = ++this.#seq;
    const page = { id: `page-${n}`, name, token: `tt_${n}_${randomBytes(12).toString('hex')}` };
    this.#pages.set(page.token, page);
    return page;
  }

  addUser(user: FakeUser): FakeUser {
    this.#users.set(user.id, user);
    return user;
  }

  /** Profile lookups of this user answer `status` (e.g. 500) from now on. */
  failProfile(userId: string, status = 500): void {
    this.#failingProfiles.set(userId, status);
  }

  /** Stores a file users sent; returns its download URL (it needs a page token, like the real one). */
  addFile(name: string, data: Buffer, type: string): string {
    const path = `/files/${++this.#seq}/${encodeURIComponent(name)}`;
    this.#files.set(path, { data, type });
    return `${this.apiRoot}${path}`;
  }

  /** A user's message to a page, as the messenger's webhook body (defaults filled in). */
  incoming(page: FakePage, fields: Partial<TestIncomingMessage> & { sender: string }): TestIncomingMessage {
    return {
      id: `in-${++this.#seq}`,
      recipient: page.id,
      message: 'hello',
      timestamp: Date.now(),
      ...fields,
    };
  }

  /** The headers the messenger delivers a webhook to this page's subscriber with. */
  webhookHeaders(page: FakePage): Record<string, string> {
    return { 'content-type': 'application/json', 'x-test-token': page.token };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const page = bearer === undefined ? undefined : this.#pages.get(bearer);
    this.requests.push({ method, path, authorized: page !== undefined });
    if (!page)
      return json(res, 401, { error: { code: 'INVALID_TOKEN', message: 'unknown or missing token' } });

    if (method === 'GET' && path === '/me') return json(res, 200, { id: page.id, name: page.name });

    if (method === 'GET' && path.startsWith('/files/')) {
      const file = this.#files.get(path);
      if (!file) return json(res, 404, { error: { code: 'NOT_FOUND', message: 'no such file' } });
      res.writeHead(200, { 'content-type': file.type, 'content-length': file.data.length });
      res.end(file.data);
      return;
    }

    if (method === 'POST' && path === '/files') {
      const form = await new Request('http://fake/', {
        method: 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? '' },
        body: new Uint8Array(raw),
      }).formData();
      const file = form.get('file');
      if (!file || typeof file === 'string') {
        return json(res, 400, { error: { code: 'NO_FILE', message: 'a multipart "file" part is required' } });
      }
      const data = Buffer.from(await file.arrayBuffer());
      const uploadUrl = this.addFile(file.name, data, file.type);
      this.uploads.push({ page, name: file.name, type: file.type, data, uploadUrl });
      return json(res, 200, { uploadUrl });
    }

    if (method === 'POST' && path === '/messages') {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return json(res, 400, { error: { code: 'INVALID_JSON', message: 'the body is not JSON' } });
      }
      const key = req.headers['idempotency-key'];
      const seen = typeof key === 'string' ? this.#byIdempotencyKey.get(`${page.id}:${key}`) : undefined;
      if (seen) return json(res, 200, { id: seen });
      const id = `out-${++this.#seq}`;
      if (typeof key === 'string') this.#byIdempotencyKey.set(`${page.id}:${key}`, id);
      this.sent.push({ page, headers: req.headers, body, id });
      return json(res, 200, { id });
    }

    if (method === 'GET' && /^\/[^/]+$/.test(path)) {
      const userId = decodeURIComponent(path.slice(1));
      const failing = this.#failingProfiles.get(userId);
      if (failing)
        return json(res, failing, { error: { code: 'UNAVAILABLE', message: 'profiles are down' } });
      const user = this.#users.get(userId);
      if (!user) return json(res, 404, { error: { code: 'NOT_FOUND', message: `no user ${userId}` } });
      const { id: _, ...profile } = user;
      return json(res, 200, profile);
    }

    return json(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${method} ${path}` } });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
