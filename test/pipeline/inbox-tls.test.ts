/**
 * TLS on every hop of the inbox channel, with a self-signed certificate made here by `openssl`:
 *   - the channel reads over implicit TLS (imaps, `imap.secure`) and logs in to an SMTP server that
 *     speaks only TLS (`smtp.secure`);
 *   - our SMTP-in listener offers STARTTLS when OMNILINE_SMTP_TLS_CERT/KEY are set, and a sender that
 *     requires TLS delivers through it;
 *   - a certificate the node does not trust is refused, and the reason names it.
 * The server runs as a child process whose NODE_EXTRA_CA_CERTS trusts the certificate (it is read at
 * start only), on each database.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { withImap } from '../../src/providers/inbox/inbox-imap.fetcher.ts';
import { smtpTransport } from '../../src/providers/inbox/inbox-smtp.sender.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../helpers/db.ts';
import { type Dovecot, dovecotMissing, freePort, startDovecot } from '../helpers/dovecot.ts';
import { mail } from '../helpers/inbox.ts';
import {
  SERVER_ADMIN_PASSWORD,
  type ServerProcess,
  startServer,
  stopAllServers,
} from '../helpers/server-process.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

const missing = dovecotMissing();
if (missing) console.log(`# skipping the inbox TLS tests: ${missing}`);

const dir = mkdtempSync(path.join(tmpdir(), 'omniline-inbox-tls-'));
const CERT = path.join(dir, 'cert.pem');
const KEY = path.join(dir, 'key.pem');

async function makeCertificate(): Promise<void> {
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    KEY,
    '-out',
    CERT,
  ]);
}

async function until(what: string, ms: number, probe: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('inbox channel over TLS', () => {
  if (missing) {
    it('needs dovecot', { skip: missing }, () => {});
    return;
  }
  let dovecot: Dovecot;
  let smtp: SmtpSink;
  before(async () => {
    await makeCertificate();
    dovecot = await startDovecot({ tls: { cert: CERT, key: KEY } });
    smtp = await SmtpSink.start('tls-sender', 'tls-pw', {
      tls: { cert: readFileSync(CERT), key: readFileSync(KEY) },
    });
  });
  after(async () => {
    await stopAllServers();
    await smtp?.close();
    await dovecot?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an IMAP or SMTP server whose certificate this node does not trust, naming the certificate', async () => {
    await dovecot.addUser('untrusted@help.test', 'pw');
    await assert.rejects(
      withImap(
        {
          host: '127.0.0.1',
          port: dovecot.tlsPort,
          secure: true,
          user: 'untrusted@help.test',
          password: 'pw',
          folder: 'INBOX',
        },
        async () => {},
      ),
      (err: Error) => /self[- ]signed|certificate/i.test(err.message),
    );
    const transport = smtpTransport(
      {
        host: '127.0.0.1',
        port: smtp.port,
        secure: true,
        user: smtp.user,
        password: smtp.password,
        from: 'x@help.test',
      },
      false,
    );
    await assert.rejects(transport.verify(), (err: Error) => /self[- ]signed|certificate/i.test(err.message));
    transport.close();
  });

  for (const kind of databaseKinds()) {
    describe(`[${kind}]`, () => {
      let server: ServerProcess;
      let database: TestDatabase | null = null;
      let token: string;
      let smtpInPort: number;
      before(async () => {
        if (kind === 'postgres') database = await createTestDatabase('postgres');
        smtpInPort = await freePort();
        server = await startServer({
          ...(database ? { databaseUrl: database.url! } : {}),
          env: {
            NODE_EXTRA_CA_CERTS: CERT,
            OMNILINE_SMTP_PORT: String(smtpInPort),
            OMNILINE_SMTP_TLS_CERT: CERT,
            OMNILINE_SMTP_TLS_KEY: KEY,
          },
        });
        const login = await server.request('POST', '/api/v1/auth/login', {
          body: { login: 'admin', password: SERVER_ADMIN_PASSWORD },
        });
        assert.equal(login.status, 200, JSON.stringify(login.body));
        token = login.body.token;
      });
      after(async () => {
        await server?.kill('SIGTERM');
        await database?.close();
      });

      it('reads mail over imaps, logs in to a TLS-only SMTP server, and takes SMTP-in mail over STARTTLS', async () => {
        const user = `tls-${kind}@help.test`;
        const address = `desk-${kind}@in.help.test`;
        await dovecot.addUser(user, 'tls-pw');
        const line = await server.request('POST', '/api/v1/lines', { token, body: { name: `tls ${kind}` } });
        assert.equal(line.status, 201, JSON.stringify(line.body));
        const channel = await server.request('POST', '/api/v1/channels', {
          token,
          body: {
            lineId: line.body.id,
            name: `tls ${kind} mail`,
            type: 'inbox',
            settings: {
              imap: { host: '127.0.0.1', port: dovecot.tlsPort, secure: true, user, password: 'tls-pw' },
              smtp: {
                host: '127.0.0.1',
                port: smtp.port,
                secure: true,
                user: smtp.user,
                password: smtp.password,
                from: 'help@help.test',
              },
              smtpIn: { address },
            },
          },
        });
        // Registration logged in to both servers over TLS.
        assert.equal(channel.status, 201, JSON.stringify(channel.body));
        const channelId: string = channel.body.id;
        const stored = async () =>
          (await server.request('GET', `/api/v1/messages?channelId=${channelId}&limit=50`, { token })).body
            .items as { text: string | null }[];

        await dovecot.append(user, 'tls-pw', [mail({ from: 'ann@client.test', body: 'read over imaps' })]);
        await until('the mail read over imaps', 30_000, async () =>
          (await stored()).some((m) => m.text === 'read over imaps'),
        );

        // A sender that will not send in the clear: it needs STARTTLS offered, and our certificate.
        const sender = nodemailer.createTransport({
          host: '127.0.0.1',
          port: smtpInPort,
          secure: false,
          requireTLS: true,
          tls: { ca: readFileSync(CERT), servername: 'localhost' },
        });
        try {
          const info = await sender.sendMail({
            envelope: { from: 'bob@client.test', to: address },
            raw: mail({ from: 'bob@client.test', to: address, body: 'sent over STARTTLS' }),
          });
          assert.match(info.response, /^250/);
        } finally {
          sender.close();
        }
        await until('the SMTP-in mail stored', 30_000, async () =>
          (await stored()).some((m) => m.text === 'sent over STARTTLS'),
        );
      });
    });
  }
});
