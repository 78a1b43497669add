/**
 * Kill test (issue requirement): the server as a child process on PostgreSQL; 2,000 inbound webhooks
 * from 20 concurrent senders; SIGKILL it mid-run; restart; re-send every message whose
 * acknowledgement did not arrive (as messengers do) → every message stored exactly once, one open
 * session per client.
 *
 * The scenario runs once in `before`; the tests check its outcome in PostgreSQL.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx --test test/reliability/kill.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type SQL, sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { signApiBody } from '../../src/providers/api/api.provider.ts';
import { countOf, createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import {
  createApiChannel,
  type ExitInfo,
  type ServerProcess,
  startServer,
  stopAllServers,
} from '../helpers/server-process.ts';

const CLIENTS = 200;
const MESSAGES_PER_CLIENT = 10;
const TOTAL = CLIENTS * MESSAGES_PER_CLIENT;
const SENDERS = 20;
/** The server is killed when this many acknowledgements have arrived (mid-run: 2,000 are sent). */
const KILL_AFTER_ACKS = 800;
/** Attempts per message after the restart (a messenger retries until acknowledged). */
const RESEND_ATTEMPTS = 5;
const API_SECRET = 'kill-test-api-secret-0123456789';
const OPEN_STATES = sql`('Waiting', 'AssignedToBot', 'AssignedToOperator')`;

interface Webhook {
  messageId: string;
  body: string;
  signature: string;
}

interface KillMoment {
  acked: number;
  inFlight: number;
  exit: ExitInfo;
}

interface Outcome {
  /** Acknowledged before the restart (some may have arrived just after the signal). */
  ackedBeforeRestart: number;
  kill: KillMoment;
  resent: number;
  /** Re-sent messages the server already had: committed before the kill, acknowledgement lost. */
  resentAlreadyStored: number;
  resendFailures: string[];
  /** HTTP error answers (not lost connections) in either run. */
  errorStatuses: number[];
  /** Wall time of the steps, for the report. */
  timings: Record<'start' | 'send' | 'restart' | 'resend', number>;
}

/** A small seeded generator (mulberry32), so every run sends in the same order. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * 10 messages for each of 200 clients, shuffled: first contacts happen all along the run and one
 * client's messages often travel together on different connections.
 */
function prepareWebhooks(): Webhook[] {
  const webhooks: Webhook[] = [];
  for (let c = 0; c < CLIENTS; c++) {
    for (let m = 0; m < MESSAGES_PER_CLIENT; m++) {
      const messageId = `kill-${c}-${m}`;
      const body = JSON.stringify({
        messageId,
        from: { id: `client-${c}`, username: `client_${c}`, name: `Client ${c}` },
        text: `message ${m} of client ${c}`,
        timestamp: new Date().toISOString(),
      });
      webhooks.push({ messageId, body, signature: signApiBody(API_SECRET, body) });
    }
  }
  const random = seededRandom(20_000);
  for (let i = webhooks.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [webhooks[i], webhooks[j]] = [webhooks[j]!, webhooks[i]!];
  }
  return webhooks;
}

/** Runs `send` over every item with `concurrency` workers pulling from one queue. */
async function drain<T>(items: T[], concurrency: number, send: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await send(items[next++]!);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** An acknowledgement (with the server's count of duplicates), an error answer, or no answer. */
type Delivery = { acked: true; duplicates: number } | { acked: false; errorStatus: number | null };

/** Posts one webhook once. */
async function deliver(server: ServerProcess, channelId: string, webhook: Webhook): Promise<Delivery> {
  try {
    const res = await server.request('POST', `/webhooks/api/${channelId}`, {
      body: webhook.body,
      headers: { 'x-omniline-signature': webhook.signature },
    });
    if (res.status >= 200 && res.status < 300) return { acked: true, duplicates: res.body.duplicates };
    return { acked: false, errorStatus: res.status };
  } catch {
    return { acked: false, errorStatus: null }; // connection refused or reset
  }
}

/** Sends everything once, without retries, and SIGKILLs the server after KILL_AFTER_ACKS acks. */
async function sendAndKill(
  server: ServerProcess,
  channelId: string,
  webhooks: Webhook[],
  errorStatuses: number[],
) {
  const acked = new Set<string>();
  let inFlight = 0;
  let killing: Promise<KillMoment> | null = null;
  await drain(webhooks, SENDERS, async (webhook) => {
    inFlight++;
    const delivery = await deliver(server, channelId, webhook);
    inFlight--;
    if (delivery.acked) acked.add(webhook.messageId);
    else if (delivery.errorStatus !== null) errorStatuses.push(delivery.errorStatus);
    if (!killing && acked.size >= KILL_AFTER_ACKS) {
      const moment = { acked: acked.size, inFlight };
      killing = server.kill('SIGKILL').then((exit) => ({ ...moment, exit }));
    }
  });
  assert.ok(killing, `the server was never killed: only ${acked.size} acknowledgements`);
  return { acked, kill: await (killing as Promise<KillMoment>) };
}

/** Re-sends every unacknowledged message, each until acknowledged (bounded), like a messenger. */
async function resend(server: ServerProcess, channelId: string, pending: Webhook[], errorStatuses: number[]) {
  let alreadyStored = 0;
  const failures: string[] = [];
  await drain(pending, SENDERS, async (webhook) => {
    for (let attempt = 1; attempt <= RESEND_ATTEMPTS; attempt++) {
      const delivery = await deliver(server, channelId, webhook);
      if (delivery.acked) {
        alreadyStored += delivery.duplicates;
        return;
      }
      if (delivery.errorStatus !== null) errorStatuses.push(delivery.errorStatus);
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
    failures.push(webhook.messageId);
  });
  return { alreadyStored, failures };
}

/** Times each awaited step into `timings` (ms). */
function stopwatch<K extends string>(timings: Record<K, number>) {
  return async <T>(step: K, work: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await work();
    } finally {
      timings[step] = Math.round(performance.now() - start);
    }
  };
}

async function runScenario(database: TestDatabase): Promise<Outcome> {
  const timings = { start: 0, send: 0, restart: 0, resend: 0 };
  const step = stopwatch(timings);
  const webhooks = prepareWebhooks();
  const first = await step('start', () => startServer({ databaseUrl: database.url! }));
  const channelId = await createApiChannel(first, API_SECRET, 'Kill test');
  const errorStatuses: number[] = [];
  const { acked, kill } = await step('send', () => sendAndKill(first, channelId, webhooks, errorStatuses));

  const second = await step('restart', () => startServer({ databaseUrl: database.url! }));
  const pending = webhooks.filter((w) => !acked.has(w.messageId));
  const { alreadyStored, failures } = await step('resend', () =>
    resend(second, channelId, pending, errorStatuses),
  );
  await second.kill('SIGTERM');
  return {
    timings,
    ackedBeforeRestart: acked.size,
    kill,
    resent: pending.length,
    resentAlreadyStored: alreadyStored,
    resendFailures: failures,
    errorStatuses,
  };
}

const count = (database: TestDatabase, query: SQL) => countOf(database.db, query);

describe('kill test: a server SIGKILLed mid-run on PostgreSQL, restarted, messages re-sent', {
  skip: process.env.DATABASE_URL ? false : 'needs DATABASE_URL',
  timeout: 120_000,
}, () => {
  let database: TestDatabase | undefined;
  let outcome: Outcome | undefined;
  const db = () => database!;

  before(async () => {
    database = await createTestDatabase('postgres');
    outcome = await runScenario(database);
  });

  after(async () => {
    await stopAllServers();
    await database?.close();
  });

  it('kills the server while webhooks are in flight, before every message is acknowledged', (t) => {
    const { kill, ackedBeforeRestart, resent, resentAlreadyStored, timings } = outcome!;
    t.diagnostic(
      `acknowledged at the kill: ${kill.acked} (${kill.inFlight} requests in flight); ` +
        `before the restart: ${ackedBeforeRestart}; re-sent: ${resent}, of which already stored ` +
        `(committed, acknowledgement lost): ${resentAlreadyStored}`,
    );
    t.diagnostic(`timings (ms): ${JSON.stringify(timings)}`);
    assert.equal(kill.exit.signal, 'SIGKILL');
    assert.ok(kill.inFlight > 0, 'requests were in flight when the signal was sent');
    assert.ok(ackedBeforeRestart < TOTAL, 'some messages were not acknowledged before the kill');
    assert.equal(resent, TOTAL - ackedBeforeRestart);
  });

  it('acknowledges every re-sent message after the restart', () => {
    assert.deepEqual(outcome!.resendFailures, []);
  });

  it('answers every webhook it receives with an acknowledgement, never an error status', () => {
    assert.deepEqual(outcome!.errorStatuses, [], 'only lost connections may leave a message unacknowledged');
  });

  it('stores every message exactly once', async () => {
    assert.equal(await count(db(), sql`SELECT count(*) AS n FROM messages`), TOTAL);
    assert.equal(await count(db(), sql`SELECT count(DISTINCT external_id) AS n FROM messages`), TOTAL);
  });

  it('creates each client once', async () => {
    assert.equal(await count(db(), sql`SELECT count(*) AS n FROM clients`), CLIENTS);
    assert.equal(await count(db(), sql`SELECT count(DISTINCT external_id) AS n FROM clients`), CLIENTS);
  });

  it('keeps exactly one open session per client, holding all of its messages', async () => {
    const offenders = await queryRows<{ client_id: string; n: string }>(
      db().db,
      sql`SELECT client_id, count(*) AS n FROM sessions WHERE state IN ${OPEN_STATES}
            GROUP BY client_id HAVING count(*) <> 1`,
    );
    assert.deepEqual([...offenders], [], 'clients with no or several open sessions');
    assert.equal(
      await count(
        db(),
        sql`SELECT count(DISTINCT client_id) AS n FROM sessions WHERE state IN ${OPEN_STATES}`,
      ),
      CLIENTS,
    );
    assert.equal(await count(db(), sql`SELECT count(*) AS n FROM sessions`), CLIENTS);
    const misplaced = sql`SELECT count(*) AS n FROM messages m JOIN sessions s ON s.id = m.session_id
                            WHERE s.client_id::text <> m.sender_id`;
    assert.equal(await count(db(), misplaced), 0);
  });
});
