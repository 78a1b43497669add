/**
 * Kill the node mid-fetch (issue 16): the server as a child process reads a backlog of 1,200 mails
 * from a real Dovecot folder; it is SIGKILLed while the backlog is being fetched and stored, then
 * started again on the same database → every mail stored exactly once, one session per sender.
 * On PGlite the restart reuses the killed server's data directory; on PostgreSQL the same database.
 *
 * The scenario runs once per database in `before`; the tests check its outcome in the database.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { openDatabase, queryRows } from '../../src/db/client.ts';
import { createTestDatabase, type DatabaseKind, databaseKinds, type TestDatabase } from '../helpers/db.ts';
import { type Dovecot, dovecotMissing, startDovecot } from '../helpers/dovecot.ts';
import { inboxSettings, mail } from '../helpers/inbox.ts';
import {
  SERVER_ADMIN_PASSWORD,
  type ServerProcess,
  startServer,
  stopAllServers,
} from '../helpers/server-process.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

const TOTAL = 1200;
const SENDERS = 40;
/** Killed once this many are stored (the backlog is fetched 100 at a time). */
const KILL_AT = 250;

const missing = dovecotMissing();
if (missing) console.log(`# skipping the inbox kill test: ${missing}`);

interface Outcome {
  storedAtKill: number;
  rows: { n: number; distinct: number; sessions: number; clients: number; doubled: number };
  cursor: { lastUid: number } | null;
}

async function admin(server: ServerProcess): Promise<string> {
  const login = await server.request('POST', '/api/v1/auth/login', {
    body: { login: 'admin', password: SERVER_ADMIN_PASSWORD },
  });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  return login.body.token;
}

/** Messages of the channel stored so far, as the API counts them. */
async function storedCount(server: ServerProcess, token: string, channelId: string): Promise<number> {
  const res = await server.request('GET', `/api/v1/messages?channelId=${channelId}&limit=1`, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.total;
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | null | false>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function scenario(kind: DatabaseKind, dovecot: Dovecot, smtp: SmtpSink): Promise<Outcome> {
  const user = `kill-${kind}@help.test`;
  await dovecot.addUser(user, 'kill-pw');
  const raws = Array.from({ length: TOTAL }, (_, i) =>
    mail({
      from: `Sender ${i % SENDERS} <sender${i % SENDERS}@client.test>`,
      id: `<kill-${kind}-${i}@client.test>`,
      subject: `backlog ${i}`,
      body: `Mail ${i} of the backlog.`,
    }),
  );
  await dovecot.append(user, 'kill-pw', raws, 'INBOX', { connections: 4 });

  let database: TestDatabase | null = null;
  let dataDir: string | null = null;
  const where = async () => {
    if (kind === 'postgres') {
      database ??= await createTestDatabase('postgres');
      return { databaseUrl: database.url! };
    }
    dataDir ??= mkdtempSync(path.join(tmpdir(), 'omniline-inbox-kill-'));
    return { dataDir };
  };
  try {
    const first = await startServer(await where());
    const token = await admin(first);
    const line = await first.request('POST', '/api/v1/lines', { token, body: { name: `kill ${kind}` } });
    assert.equal(line.status, 201, JSON.stringify(line.body));
    const channel = await first.request('POST', '/api/v1/channels', {
      token,
      body: {
        lineId: line.body.id,
        name: `kill ${kind} mail`,
        type: 'inbox',
        settings: inboxSettings(dovecot, smtp, user, 'kill-pw'),
      },
    });
    assert.equal(channel.status, 201, JSON.stringify(channel.body));
    const channelId: string = channel.body.id;
    const storedAtKill = await until('the backlog to be read in part', 120_000, async () => {
      const n = await storedCount(first, token, channelId);
      return n >= KILL_AT ? n : null;
    });
    const exit = await first.kill('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');

    const second = await startServer(await where());
    const token2 = await admin(second);
    await until('every mail after the restart', 180_000, async () => {
      return (await storedCount(second, token2, channelId)) >= TOTAL;
    });
    // Time for a repeat to show up, were anything read twice.
    await new Promise((r) => setTimeout(r, 2000));
    await second.kill('SIGTERM');

    const db = database ? (database as TestDatabase).db : null;
    const opened = db ? null : await openDatabase({ url: null, dataDir: dataDir! });
    try {
      const q = (db ?? opened!.db)!;
      const [rows] = await queryRows<Outcome['rows']>(
        q,
        sql`SELECT count(*)::int AS n, count(DISTINCT external_id)::int AS distinct,
                   (SELECT count(*)::int FROM sessions WHERE channel_id = ${channelId}) AS sessions,
                   (SELECT count(*)::int FROM clients WHERE channel_id = ${channelId}) AS clients,
                   (SELECT count(*)::int FROM (SELECT external_id FROM messages WHERE channel_id = ${channelId}
                      GROUP BY external_id HAVING count(*) > 1) d) AS doubled
            FROM messages WHERE channel_id = ${channelId}`,
      );
      const [cursor] = await queryRows<{ cursor: string }>(
        q,
        sql`SELECT cursor FROM channel_cursors WHERE channel_id = ${channelId}`,
      );
      return { storedAtKill, rows: rows!, cursor: cursor ? JSON.parse(cursor.cursor) : null };
    } finally {
      await opened?.close();
    }
  } finally {
    await stopAllServers();
    await (database as TestDatabase | null)?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

for (const kind of databaseKinds()) {
  describe(`inbox: kill the node mid-fetch [${kind}]`, () => {
    if (missing) {
      it('needs dovecot', { skip: missing }, () => {});
      return;
    }
    let dovecot: Dovecot;
    let smtp: SmtpSink;
    let outcome: Outcome;
    before(
      async () => {
        dovecot = await startDovecot();
        smtp = await SmtpSink.start();
        outcome = await scenario(kind, dovecot, smtp);
      },
      { timeout: 400_000 },
    );
    after(async () => {
      await stopAllServers();
      await smtp?.close();
      await dovecot?.stop();
    });

    it('was killed while the backlog was being read', () => {
      assert.ok(
        outcome.storedAtKill >= KILL_AT && outcome.storedAtKill < TOTAL,
        String(outcome.storedAtKill),
      );
    });

    it('stores every mail exactly once after the restart', () => {
      assert.equal(outcome.rows.doubled, 0);
      assert.equal(outcome.rows.distinct, TOTAL);
      assert.equal(outcome.rows.n, TOTAL);
    });

    it('keeps one client and one session per sender, and the folder cursor at the last mail', () => {
      assert.equal(outcome.rows.clients, SENDERS);
      assert.equal(outcome.rows.sessions, SENDERS);
      assert.equal(outcome.cursor?.lastUid, TOTAL);
    });
  });
}
