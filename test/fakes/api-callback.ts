/**
 * A local receiver for the api channel's outbound callbacks (the "any system" on the other side),
 * recording each signed request exactly and answering as told. Also serves files for inbound
 * attachment URLs.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CallbackRequest {
  path: string;
  headers: IncomingMessage['headers'];
  raw: Buffer;
  body: any;
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };

export class ApiCallbackServer {
  readonly requests: CallbackRequest[] = [];
  readonly #answers: Answer[] = [];
  readonly #files = new Map<string, { data: Buffer; type: string }>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<ApiCallbackServer> {
    let self: ApiCallbackServer | undefined;
    const server = createServer((req, res) => void self!.#handle(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    self = new ApiCallbackServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  /** The next callbacks get these answers, in order (then 200 {}). */
  answerNext(...answers: Answer[]): void {
    this.#answers.push(...answers);
  }

  serveFile(path: string, data: Buffer, type: string): string {
    this.#files.set(path, { data, type });
    return `${this.url}${path}`;
  }

  async #handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const file = req.method === 'GET' ? this.#files.get(req.url ?? '') : undefined;
    if (file) {
      res.writeHead(200, { 'content-type': file.type, 'content-length': file.data.length });
      res.end(file.data);
      return;
    }
    let body: unknown = null;
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : null;
    } catch {
      body = raw.toString('utf8');
    }
    this.requests.push({ path: req.url ?? '', headers: req.headers, raw, body });
    const answer = this.#answers.shift() ?? { status: 200, body: {} };
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(JSON.stringify(answer.body ?? {}));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
