/**
 * Signed api-channel webhooks, a lean keep-alive HTTP sender and the plain-INSERT baseline: what the
 * ingest and faults benchmarks send (the load loops and meters are load.ts and cpu.ts).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import postgres from 'postgres';
import { signApiBody } from '../../src/providers/api/api.provider.ts';
import { closedLoop } from './load.ts';

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

/** One webhook as a messenger would send it: its body and the headers that sign it. */
export interface Webhook {
  body: string;
  headers: Record<string, string>;
}

/** Signed webhooks with unique message ids, spread round-robin over `clients` clients. */
export class WebhookFactory {
  #n = 0;

  constructor(
    private readonly secret: string,
    private readonly clients: number,
    private readonly prefix: string,
  ) {}

  next(): Webhook {
    const n = this.#n++;
    const c = n % this.clients;
    const body = JSON.stringify({
      messageId: `${this.prefix}-${n}`,
      from: { id: `client-${c}`, username: `client_${c}`, name: `Client ${c}` },
      text: `message ${n} from client ${c}`,
      timestamp: new Date().toISOString(),
    });
    return { body, headers: { 'x-omniline-signature': signApiBody(this.secret, body) } };
  }
}

export interface WebhookTarget {
  agent: http.Agent;
  port: number;
  path: string;
}

/** A webhook's answer: its status and, on a refusal, the Retry-After it gave (seconds). */
export interface WebhookAnswer {
  status: number;
  retryAfter: number | null;
}

/** POSTs one webhook and resolves to its answer once it is read. */
export function postWebhook(target: WebhookTarget, webhook: Webhook): Promise<WebhookAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: target.path,
        method: 'POST',
        agent: target.agent,
        timeout: 30_000,
        headers: {
          'content-type': 'application/json',
          ...webhook.headers,
          'content-length': Buffer.byteLength(webhook.body),
        },
      },
      (res) => {
        res.resume();
        const retryAfter = res.headers['retry-after'];
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, retryAfter: retryAfter ? Number(retryAfter) : null }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(webhook.body);
  });
}

// ---------------------------------------------------------------------------------------------
// Baseline: plain single-row INSERTs
// ---------------------------------------------------------------------------------------------

/**
 * The database's own limit for this shape of work: autocommit single-row INSERTs of a webhook-like
 * row into a plain table, from a pool of `concurrency` connections kept busy for `durationMs`.
 */
export async function insertBaseline(
  url: string,
  opts: { concurrency: number; durationMs: number; loadDone?: () => void },
) {
  const sql = postgres(url, { max: opts.concurrency, onnotice: () => {} });
  try {
    await sql`DROP TABLE IF EXISTS bench_insert`;
    await sql`CREATE TABLE bench_insert (
      id bigserial PRIMARY KEY, channel_id uuid, external_id text, body jsonb,
      created_at timestamptz DEFAULT now())`;
    const channelId = randomUUID();
    let n = 0;
    const send = async () => {
      const externalId = `insert-${n++}`;
      const body = { messageId: externalId, from: { id: `client-${n % 1000}` }, text: `message ${n}` };
      await sql`INSERT INTO bench_insert (channel_id, external_id, body)
                VALUES (${channelId}, ${externalId}, ${sql.json(body)})`;
      return 200;
    };
    // Open every connection before the clock starts.
    await Promise.all(Array.from({ length: opts.concurrency }, () => sql`SELECT 1`));
    const result = await closedLoop({ concurrency: opts.concurrency, durationMs: opts.durationMs, send });
    opts.loadDone?.();
    return result;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
