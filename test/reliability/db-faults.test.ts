/**
 * Database faults, against the real server as a child process on PostgreSQL:
 *
 * - its backends terminated three times (`pg_terminate_backend`) during a burst of 1,500 webhooks
 *   from 20 senders that re-send every refused message after its Retry-After, as messengers do:
 *   the process survives, every refusal is a 503 DATABASE_UNAVAILABLE with Retry-After, every
 *   message is stored exactly once, and the log carries no secret;
 * - the database cut off behind a TCP proxy (a partition: nothing answers, nothing closes): webhooks
 *   and API calls get 503 within the configured timeout, `/healthz` says so, and the node recovers
 *   by itself once the proxy forwards again;
 * - two nodes started together on an empty database: both start, one admin exists.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx --test test/reliability/db-faults.test.ts
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import { type SQL, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { queryRows } from '../../src/db/client.ts';
import { signApiBody } from '../../src/providers/api/api.provider.ts';
import { countOf, createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import {
  createApiChannel,
  httpRequest,
  SERVER_ADMIN_PASSWORD,
  SERVER_SECRET_KEY,
  startServer,
  stopAllServers,
} from '../helpers/server-process.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';

const API_SECRET = 'db-faults-api-secret-0123456789';
const TOTAL = 1500;
const SENDERS = 20;
const CUTS_AT_ACKS = [300, 700, 1100];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  status: number | null;
  retryAfter: string | null;
  code: string | null;
}

function webhook(n: number) {
  const body = JSON.stringify({
    messageId: `fault-${n}`,
    from: { id: `client-${n % 50}`, name: `Client ${n % 50}` },
    text: `message ${n}`,
  });
  return { body, signature: signApiBody(API_SECRET, body) };
}

async function post(agent: http.Agent, url: string, w: { body: string; signature: string }): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        timeout: 15_000,
        headers: { 'content-type': 'application/json', 'x-omniline-signature': w.signature },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let code: string | null = null;
          try {
            code = JSON.parse(Buffer.concat(chunks).toString()).error?.code ?? null;
          } catch {}
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: (res.headers['retry-after'] as string) ?? null,
            code,
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: null, retryAfter: null, code: null }));
    req.end(w.body);
  });
}

async function terminateBackends(adminUrl: string, database: string): Promise<number> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await admin`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
                             WHERE datname = ${database} AND pid <> pg_backend_pid()`;
    return rows.length;
  } finally {
    await admin.end();
  }
}

const count = (database: TestDatabase, query: SQL) => countOf(database.db, query);

describe('database faults on PostgreSQL', {
  skip: process.env.DATABASE_URL ? false : 'needs DATABASE_URL',
  timeout: 180_000,
}, () => {
  const databases: TestDatabase[] = [];
  after(async () => {
    await stopAllServers();
    for (const d of databases) await d.close();
  });

  it('survives its backends terminated mid-burst: only 503s with Retry-After, every message stored once, no secret logged', async (t) => {
    const database = await createTestDatabase('postgres');
    databases.push(database);
    const server = await startServer({ databaseUrl: database.url!, logLevel: 'info' });
    const channelId = await createApiChannel(server, API_SECRET, 'Faults');
    const url = `${server.baseUrl}/webhooks/api/${channelId}`;
    const refusals: Answer[] = [];
    const dbName = new URL(database.url!).pathname.slice(1);
    let acked = 0;
    let cuts = 0;
    let next = 0;
    const cutting: Promise<number>[] = [];
    const sender = async () => {
      while (next < TOTAL) {
        const w = webhook(next++);
        for (let attempt = 0; ; attempt++) {
          const answer = await post(server.agent, url, w);
          if (answer.status === 200) break;
          refusals.push(answer);
          assert.ok(attempt < 30, `a message was refused 30 times: ${JSON.stringify(answer)}`);
          await sleep(Number(answer.retryAfter ?? 1) * 1000);
        }
        acked++;
        if (cuts < CUTS_AT_ACKS.length && acked >= CUTS_AT_ACKS[cuts]!) {
          cuts++;
          cutting.push(terminateBackends(process.env.DATABASE_URL!, dbName));
        }
      }
    };
    await Promise.all(Array.from({ length: SENDERS }, sender));
    const terminated = await Promise.all(cutting);
    t.diagnostic(`backends terminated per cut: ${terminated.join(', ')}; refusals: ${refusals.length}`);

    assert.ok(server.isRunning(), `the server exited:\n${server.output()}`);
    assert.equal(terminated.length, 3);
    assert.ok(
      terminated.every((n) => n > 0),
      'every cut terminated backends of the node',
    );
    for (const r of refusals) {
      assert.equal(r.status, 503, `a refusal that is not a 503: ${JSON.stringify(r)}`);
      assert.equal(r.code, 'DATABASE_UNAVAILABLE');
      assert.ok(r.retryAfter && Number(r.retryAfter) > 0, 'a 503 without Retry-After');
    }
    assert.equal(await count(database, sql`SELECT count(*) AS n FROM messages`), TOTAL);
    assert.equal(await count(database, sql`SELECT count(DISTINCT external_id) AS n FROM messages`), TOTAL);
    assert.equal((await server.request('GET', '/healthz')).status, 200);

    const log = server.output();
    const [admin] = await queryRows<{ password_hash: string }>(
      database.db,
      sql`SELECT password_hash FROM users WHERE login = 'admin'`,
    );
    for (const secret of [API_SECRET, SERVER_ADMIN_PASSWORD, SERVER_SECRET_KEY, admin!.password_hash]) {
      assert.ok(!log.includes(secret), `the log carries a secret (${secret.slice(0, 6)}…)`);
    }
    assert.doesNotMatch(log, /scrypt\$/, 'the log carries a password hash');
    assert.doesNotMatch(log, /params: (?!\[redacted\])/, "the log carries a failed statement's parameters");
  });

  it('answers 503 within the timeout while the database does not answer, and recovers by itself', async (t) => {
    const database = await createTestDatabase('postgres');
    databases.push(database);
    const target = new URL(database.url!);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    t.after(() => proxy.close());
    const server = await startServer({
      databaseUrl: proxy.via(database.url!),
      env: { OMNILINE_DB_TIMEOUT_MS: '2000' },
    });
    const channelId = await createApiChannel(server, API_SECRET, 'Partition');
    const hook = `${server.baseUrl}/webhooks/api/${channelId}`;
    assert.equal((await post(server.agent, hook, webhook(1))).status, 200);
    const login = await server.request('POST', '/api/v1/auth/login', {
      body: { login: 'admin', password: SERVER_ADMIN_PASSWORD },
    });
    const token: string = login.body.token;

    proxy.blackhole();
    const started = performance.now();
    const during = await post(server.agent, hook, webhook(2));
    const waitedMs = performance.now() - started;
    t.diagnostic(`a webhook during the partition was answered in ${Math.round(waitedMs)} ms`);
    assert.equal(during.status, 503, JSON.stringify(during));
    assert.equal(during.code, 'DATABASE_UNAVAILABLE');
    assert.ok(Number(during.retryAfter) > 0);
    assert.ok(waitedMs < 6000, `answered after ${Math.round(waitedMs)} ms, beyond the bound`);
    const api = await server.request('GET', '/api/v1/me', { token, timeoutMs: 6000 });
    assert.equal(api.status, 503);
    assert.equal(api.body.error.code, 'DATABASE_UNAVAILABLE');
    const health = await server.request('GET', '/healthz', { timeoutMs: 6000 });
    assert.equal(health.status, 503);
    assert.equal(health.body.database, 'unavailable');

    proxy.heal();
    const healedAt = performance.now();
    let answer: Answer = { status: null, retryAfter: null, code: null };
    while (performance.now() - healedAt < 15_000) {
      answer = await post(server.agent, hook, webhook(2));
      if (answer.status === 200) break;
      await sleep(200);
    }
    t.diagnostic(`back to 200 ${Math.round(performance.now() - healedAt)} ms after the partition healed`);
    assert.equal(answer.status, 200, `not recovered: ${JSON.stringify(answer)}`);
    assert.equal((await server.request('GET', '/healthz')).status, 200);
    assert.ok(server.isRunning());
    assert.equal(await count(database, sql`SELECT count(DISTINCT external_id) AS n FROM messages`), 2);
  });

  it('starts two nodes together on an empty database, with one admin', async () => {
    const database = await createTestDatabase('postgres');
    databases.push(database);
    // createTestDatabase migrates; start from nothing at all, as a new cluster does.
    await queryRows(database.db, sql`DROP SCHEMA public CASCADE`);
    await queryRows(database.db, sql`CREATE SCHEMA public`);
    await queryRows(database.db, sql`DROP TABLE IF EXISTS omniline_migrations`);
    const nodes = await Promise.all([1, 2].map(() => startServer({ databaseUrl: database.url! })));
    for (const node of nodes) assert.ok(node.isRunning());
    assert.equal(await count(database, sql`SELECT count(*) AS n FROM users`), 1);
    for (const node of nodes) {
      const login = await httpRequest(node.agent, `${node.baseUrl}/api/v1/auth/login`, 'POST', {
        body: { login: 'admin', password: SERVER_ADMIN_PASSWORD },
      });
      assert.equal(login.status, 200);
    }
  });
});
