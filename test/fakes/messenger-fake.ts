/**
 * The shared frame of the messenger fakes (twilio-api.ts, viber-api.ts): a local HTTP server that
 * records every request it receives (method, path, headers, raw body) and answers by a handler, and
 * a `deliver` hook through which the fake sends its signed webhooks (to a test app's inject, or fetch).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from './http-util.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export type Deliver = (
  url: string,
  body: string,
  headers: Record<string, string>,
) => Promise<{ status: number; body: string }>;

export const fetchDeliver: Deliver = async (url, body, headers) => {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, body: await res.text() };
};

export abstract class MessengerFake {
  readonly requests: RecordedRequest[] = [];
  deliver: Deliver = fetchDeliver;
  #server: Server | null = null;
  root = '';

  protected abstract handle(req: RecordedRequest, res: ServerResponse): unknown;

  async listen(): Promise<void> {
    this.#server = createServer((req, res) => {
      void (async () => {
        const recorded = {
          method: req.method ?? 'GET',
          path: req.url ?? '/',
          headers: req.headers,
          body: await readBody(req),
        };
        this.requests.push(recorded);
        await this.handle(recorded, res);
      })().catch((err) => {
        res.writeHead(500).end(String(err));
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.root = `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}`;
  }

  /** The requests to a path (exact, without the query). */
  to(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path.split('?')[0] === path);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }
}

export function reply(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body);
}
