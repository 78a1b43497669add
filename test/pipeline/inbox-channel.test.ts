/**
 * The inbox (e-mail) channel against real servers: Dovecot as the mailbox our channel reads over
 * IMAP, smtp-server as the server our replies go to.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { type Dovecot, dovecotMissing, startDovecot } from '../helpers/dovecot.ts';
import { createLine, unique } from '../helpers/factories.ts';
import { inboxMailbox, inboxSettings, mail, messagesOf, SUPPORT } from '../helpers/inbox.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { waitFor } from '../helpers/wait.ts';

const missing = dovecotMissing();
if (missing) console.log(`# skipping the inbox channel tests: ${missing}`);

async function jobErrors(ctx: TestContext) {
  return queryRows<{ kind: string; last_error: string | null; failed_at: Date | null }>(
    ctx.db,
    sql`SELECT kind, last_error, failed_at FROM jobs WHERE last_error IS NOT NULL`,
  );
}

async function fileText(ctx: TestContext, fileId: string): Promise<string> {
  const res = await ctx.app.inject({
    method: 'GET',
    url: `/api/v1/files/${fileId}`,
    headers: { authorization: `Bearer ${ctx.adminToken}` },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.body;
}

describeEachDatabase(
  'inbox channel',
  (ctx) => {
    if (missing) {
      it('needs dovecot', { skip: missing }, () => {});
      return;
    }
    let dovecot: Dovecot;
    let smtp: SmtpSink;
    before(async () => {
      dovecot = await startDovecot();
      smtp = await SmtpSink.start();
    });
    after(async () => {
      await smtp?.close();
      await dovecot?.stop();
    });

    const settings = (user: string, password: string) => inboxSettings(dovecot, smtp, user, password);
    const mailbox = (extra: Record<string, unknown> = {}) => inboxMailbox(ctx(), dovecot, smtp, extra);

    async function sessionOf(id: string) {
      return (await ctx().request('GET', `/api/v1/sessions/${id}`)).body;
    }

    it('registers: logs in to both servers; passwords never come back', async () => {
      const { channel } = await mailbox();
      assert.equal(channel.settings.imap.password, '********');
      assert.equal(channel.settings.smtp.password, '********');
      assert.equal(channel.settings.imap.host, dovecot.host);
      assert.equal(channel.settings.imap.folder, 'INBOX');
      assert.equal(channel.settings.backfillDays, 7);
    });

    it('refuses registration with a 422 naming the server that refused the login', async () => {
      const user = `${unique('box')}@help.test`;
      await dovecot.addUser(user, 'right');
      const line = await createLine(ctx());
      const imapWrong = await ctx().request('POST', '/api/v1/channels', {
        body: { lineId: line.id, name: unique('m'), type: 'inbox', settings: settings(user, 'wrong') },
      });
      assert.equal(imapWrong.status, 422);
      assert.match(imapWrong.body.error.message, /IMAP .*login refused/);
      assert.equal(imapWrong.body.error.details.providerCode, 'IMAP_LOGIN_FAILED');
      const s = settings(user, 'right');
      s.smtp.password = 'wrong';
      const smtpWrong = await ctx().request('POST', '/api/v1/channels', {
        body: { lineId: line.id, name: unique('m'), type: 'inbox', settings: s },
      });
      assert.equal(smtpWrong.status, 422);
      assert.match(smtpWrong.body.error.message, /SMTP .*535/);
      const noFolder = await ctx().request('POST', '/api/v1/channels', {
        body: {
          lineId: line.id,
          name: unique('m'),
          type: 'inbox',
          settings: { ...settings(user, 'right'), imap: { ...settings(user, 'right').imap, folder: 'Nope' } },
        },
      });
      assert.equal(noFolder.status, 422);
      assert.match(noFolder.body.error.message, /folder "Nope"/);
      const bad = await ctx().request('POST', '/api/v1/channels', {
        body: { lineId: line.id, name: unique('m'), type: 'inbox', settings: { imap: {} } },
      });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /settings\.imap\.host/);
    });

    it('turns a new mail into a session titled by its subject, and threads replies both ways', async () => {
      const { channel, append } = await mailbox();
      const first = `<${unique('first')}@client.test>`;
      await append(
        mail({
          from: 'Ann Smith <Ann.Smith@Client.TEST>',
          subject: 'Printer on fire',
          id: first,
          body: 'It smokes.\r\n\r\n-- \r\nAnn Smith\r\nACME',
        }),
      );
      const [incoming] = await waitFor(
        async () => {
          const m = await messagesOf(ctx(), channel.id);
          return m.length > 0 && m;
        },
        30_000,
        'the mail stored',
      );
      assert.equal(incoming!.text, 'It smokes.');
      assert.equal(incoming!.external_id, first);
      const session = await sessionOf(incoming!.session_id);
      assert.equal(session.title, 'Printer on fire');
      const client = (await ctx().request('GET', `/api/v1/clients/${session.clientIds[0]}`)).body;
      assert.equal(client.externalId, 'ann.smith@client.test');
      assert.equal(client.email, 'ann.smith@client.test');
      assert.equal(client.firstName, 'Ann');
      // The original and the full (untrimmed) text are kept in the file store.
      const stored = await waitFor(
        async () => {
          const [m] = await messagesOf(ctx(), channel.id);
          return m!.attachments.every((a) => a.fileId) && m!.attachments;
        },
        30_000,
        'parts stored',
      );
      const eml = stored.find((a) => a.name === 'message.eml')!;
      assert.match(await fileText(ctx(), eml.fileId!), /Subject: Printer on fire/);
      const full = stored.find((a) => a.name === 'message.txt')!;
      assert.match(await fileText(ctx(), full.fileId!), /ACME/);

      // Our reply: Re: subject, In-Reply-To and References, our own Message-ID, the operator's name.
      const sent = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: 'Unplug it.\nThen call us.' },
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      const out = await waitFor(
        () => smtp.received.find((m) => m.to.includes('ann.smith@client.test')),
        30_000,
        'reply sent',
      );
      assert.equal(out.mail.subject, 'Re: Printer on fire');
      assert.equal(out.mail.inReplyTo, first);
      assert.match(out.header('references') ?? '', new RegExp(first.replace(/[.<>]/g, '\\$&')));
      assert.equal(out.mail.messageId, `<${sent.body.id}@help.test>`);
      assert.equal(out.mail.from?.address, SUPPORT);
      assert.match(out.mail.text ?? '', /Unplug it\.\nThen call us\./);
      assert.match(out.mail.html ?? '', /Unplug it\.<br>Then call us\./);
      const ours = await waitFor(
        async () => {
          const m = (await messagesOf(ctx(), channel.id)).find((x) => x.id === sent.body.id);
          return m?.status === 'sent' && m;
        },
        10_000,
        'marked sent',
      );
      assert.equal(ours.external_id, out.mail.messageId);

      // The client answers our reply from another address: it still goes to this session.
      await append(
        mail({
          from: 'ann@home.test',
          subject: 'Re: Printer on fire',
          inReplyTo: out.mail.messageId,
          body: 'Done, thanks!\r\n\r\nOn Mon, 1 Jan 2026, Help Desk <support@help.test> wrote:\r\n> Unplug it.',
        }),
      );
      const reply = await waitFor(
        async () => {
          const m = await messagesOf(ctx(), channel.id);
          return m.find((x) => x.text === 'Done, thanks!');
        },
        30_000,
        'the reply stored',
      );
      assert.equal(reply.session_id, session.id);
    });

    it('reads every mail that came while the channel was disconnected, exactly once, after reconnect', async () => {
      const { channel, append } = await mailbox();
      await append(mail({ from: 'bulk@client.test', subject: 'first' }));
      await waitFor(async () => (await messagesOf(ctx(), channel.id)).length === 1, 30_000, 'first stored');
      assert.equal((await ctx().request('POST', `/api/v1/channels/${channel.id}/disconnect`)).status, 200);
      const raws = Array.from({ length: 500 }, (_, i) =>
        mail({ from: `sender${i % 7}@client.test`, subject: `mail ${i}`, body: `number ${i}` }),
      );
      await append(...raws);
      assert.equal((await ctx().request('POST', `/api/v1/channels/${channel.id}/reconnect`)).status, 200);
      await waitFor(async () => (await messagesOf(ctx(), channel.id)).length >= 501, 120_000, '501 stored');
      await new Promise((r) => setTimeout(r, 1500));
      const all = await messagesOf(ctx(), channel.id);
      assert.equal(all.length, 501);
      const texts = new Set(all.map((m) => m.text));
      for (let i = 0; i < 500; i++) assert.ok(texts.has(`number ${i}`), `number ${i} stored`);
    });

    it('notices new mail at once in IDLE, and by polling on a server that has no IDLE', async () => {
      const { channel, append } = await mailbox();
      await append(mail({ from: 'idle@client.test', body: 'first' }));
      await waitFor(async () => (await messagesOf(ctx(), channel.id)).length === 1, 30_000, 'first stored');
      // The fetcher is waiting in IDLE now; a poll would come only after POLL_INTERVAL_MS (10 s).
      await new Promise((r) => setTimeout(r, 500));
      const sent = Date.now();
      await append(mail({ from: 'idle@client.test', body: 'second' }));
      await waitFor(async () => (await messagesOf(ctx(), channel.id)).length === 2, 30_000, 'second stored');
      assert.ok(Date.now() - sent < 4000, `IDLE noticed the mail in ${Date.now() - sent} ms`);

      // No IDLE: an empty folder at first, then mail — noticed by the next poll.
      const plain = await startDovecot({ idle: false });
      try {
        const probe = await plain.client('probe@test.local', 'probe');
        assert.ok(!probe.capabilities.has('IDLE'), 'this server offers no IDLE');
        await probe.logout();
        const polled = await inboxMailbox(ctx(), plain, smtp);
        await new Promise((r) => setTimeout(r, 1000));
        await polled.append(mail({ from: 'poll@client.test', body: 'polled' }));
        await waitFor(
          async () => (await messagesOf(ctx(), polled.channel.id)).length === 1,
          30_000,
          'the polled mail stored',
        );
      } finally {
        await plain.stop();
      }
    });

    it('after a UIDVALIDITY change reads the folder again without storing anything twice', async () => {
      const { channel, append, user } = await mailbox();
      await append(
        mail({ from: 'a@client.test', body: 'one' }),
        mail({ from: 'a@client.test', body: 'two' }),
      );
      await waitFor(async () => (await messagesOf(ctx(), channel.id)).length === 2, 30_000, 'two stored');
      assert.equal((await ctx().request('POST', `/api/v1/channels/${channel.id}/disconnect`)).status, 200);
      await dovecot.resetUidValidity(user, 'INBOX', 4242);
      await append(mail({ from: 'a@client.test', body: 'three' }));
      assert.equal((await ctx().request('POST', `/api/v1/channels/${channel.id}/reconnect`)).status, 200);
      await waitFor(async () => (await messagesOf(ctx(), channel.id)).length >= 3, 30_000, 'three stored');
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(
        (await messagesOf(ctx(), channel.id)).map((m) => m.text),
        ['one', 'two', 'three'],
      );
    });

    it('never opens a session for an auto-reply, and a bounce fails the message it reports on', async () => {
      const { channel, append } = await mailbox();
      await append(
        mail({ from: 'robot@client.test', headers: { 'Auto-Submitted': 'auto-replied' }, body: 'I am away' }),
        mail({ from: 'news@client.test', headers: { Precedence: 'bulk' }, body: 'Newsletter' }),
        mail({ from: 'real@client.test', body: 'A person' }),
      );
      await waitFor(
        async () => (await messagesOf(ctx(), channel.id)).length >= 1,
        30_000,
        'the person stored',
      );
      await new Promise((r) => setTimeout(r, 1000));
      const stored = await messagesOf(ctx(), channel.id);
      assert.deepEqual(
        stored.map((m) => m.text),
        ['A person'],
      );
      const sessions = await queryRows<{ n: number }>(
        ctx().db,
        sql`SELECT count(*)::int AS n FROM sessions WHERE channel_id = ${channel.id}`,
      );
      assert.equal(sessions[0]!.n, 1);

      // Our reply bounces: the DSN names its Message-ID.
      const sent = await ctx().request('POST', `/api/v1/sessions/${stored[0]!.session_id}/messages`, {
        body: { text: 'We are on it' },
      });
      // (The send job queues behind the earlier tests' attachment loads — 500 mails' originals.)
      const out = await waitFor(
        () => smtp.received.find((m) => m.to.includes('real@client.test')),
        120_000,
        'sent',
      );
      await waitFor(
        async () =>
          (await messagesOf(ctx(), channel.id)).find((m) => m.id === sent.body.id)?.status === 'sent',
        10_000,
      );
      const boundary = 'dsn-boundary';
      await append(
        mail({
          from: 'Mail Delivery System <MAILER-DAEMON@mx.client.test>',
          subject: 'Undelivered Mail Returned to Sender',
          headers: { 'Auto-Submitted': 'auto-replied' },
          contentType: `multipart/report; report-type=delivery-status; boundary="${boundary}"`,
          body: [
            `--${boundary}`,
            'Content-Type: text/plain',
            '',
            'Your message could not be delivered.',
            `--${boundary}`,
            'Content-Type: message/delivery-status',
            '',
            'Reporting-MTA: dns; mx.client.test',
            '',
            'Final-Recipient: rfc822; real@client.test',
            'Action: failed',
            'Status: 5.1.1',
            'Diagnostic-Code: smtp; 550 5.1.1 <real@client.test>: Recipient address rejected',
            `--${boundary}`,
            'Content-Type: text/rfc822-headers',
            '',
            `Message-ID: ${out.mail.messageId}`,
            'Subject: Re: Help please',
            `--${boundary}--`,
          ].join('\r\n'),
        }),
      );
      const failed = await waitFor(
        async () => {
          const m = (await messagesOf(ctx(), channel.id)).find((x) => x.id === sent.body.id);
          return m?.status === 'failed' && m;
        },
        30_000,
        'marked failed',
      );
      assert.match(failed.error.message, /550 5\.1\.1/);
      assert.equal((await messagesOf(ctx(), channel.id)).length, 2, 'the bounce itself is not a message');
    });

    it('keeps HTML inert (no script, no handlers, no remote loads) and stores attachments and inline images', async () => {
      const { channel, append } = await mailbox();
      const b = 'mixed-boundary';
      const png = Buffer.from(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
        'base64',
      );
      await append(
        mail({
          from: 'html@client.test',
          contentType: `multipart/mixed; boundary="${b}"`,
          body: [
            `--${b}`,
            'Content-Type: text/html; charset=utf-8',
            '',
            '<p onclick="steal()">Hello <b>there</b></p><script>alert(1)</script>',
            '<img src="https://tracker.test/pixel.gif" onerror="alert(2)"><img src="cid:logo@x">',
            '<a href="javascript:alert(3)">bad</a> <a href="https://ok.test/">good</a>',
            `--${b}`,
            'Content-Type: image/png',
            'Content-Disposition: inline; filename="logo.png"',
            'Content-ID: <logo@x>',
            'Content-Transfer-Encoding: base64',
            '',
            png.toString('base64'),
            `--${b}`,
            'Content-Type: application/pdf',
            'Content-Disposition: attachment; filename="invoice.pdf"',
            'Content-Transfer-Encoding: base64',
            '',
            Buffer.from('%PDF-1.4 test').toString('base64'),
            `--${b}--`,
          ].join('\r\n'),
        }),
      );
      const parts = await waitFor(
        async () => {
          const [m] = await messagesOf(ctx(), channel.id);
          return m && m.attachments.length > 0 && m.attachments.every((a) => a.fileId) && m.attachments;
        },
        30_000,
        'parts stored',
      ).catch(async (err) => {
        console.log(
          JSON.stringify(await messagesOf(ctx(), channel.id)),
          JSON.stringify(await jobErrors(ctx())),
        );
        throw err;
      });
      const [m] = await messagesOf(ctx(), channel.id);
      assert.match(m!.text!, /Hello there/);
      const names = parts.map((a) => a.name);
      assert.ok(names.includes('logo.png') && names.includes('invoice.pdf'), names.join(','));
      const html = await fileText(ctx(), parts.find((a) => a.name === 'message.html')!.fileId!);
      assert.doesNotMatch(html, /<script|alert\(1\)|onclick|onerror|javascript:/i);
      assert.doesNotMatch(html, /\ssrc="https:\/\/tracker/);
      assert.match(html, /data-remote-src="https:\/\/tracker\.test\/pixel\.gif"/);
      assert.match(html, /<img src="cid:logo@x">/);
      assert.match(
        html,
        /<a href="https:\/\/ok\.test\/" rel="noopener noreferrer nofollow" target="_blank">good<\/a>/,
      );
      assert.match(html, /<p>Hello <b>there<\/b><\/p>/);
    });

    it('moves the channel to error when the mailbox refuses the password later, and reconnect resumes', async () => {
      const { channel, append, user, password } = await mailbox();
      await append(mail({ from: 'p@client.test', body: 'before' }));
      await waitFor(async () => (await messagesOf(ctx(), channel.id)).length === 1, 30_000, 'stored');
      await dovecot.addUser(user, 'changed');
      // The fetcher's connection is cut; it sees the refusal on its next login.
      await dovecot.kick(user);
      const errored = await waitFor(
        async () => {
          const c = (await ctx().request('GET', `/api/v1/channels/${channel.id}`)).body;
          return c.state === 'error' && c;
        },
        60_000,
        'channel error',
      );
      assert.match(errored.stateReason ?? JSON.stringify(errored), /login refused/i);
      // Mail that comes while the channel is in error is read after the reconnect, from where it stopped.
      await dovecot.append(user, 'changed', [mail({ from: 'p@client.test', body: 'during' })]);
      await dovecot.addUser(user, password);
      assert.equal((await ctx().request('POST', `/api/v1/channels/${channel.id}/reconnect`)).status, 200);
      await dovecot.append(user, password, [mail({ from: 'p@client.test', body: 'after' })]);
      await waitFor(
        async () => (await messagesOf(ctx(), channel.id)).some((m) => m.text === 'after'),
        30_000,
        'after',
      );
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(
        (await messagesOf(ctx(), channel.id)).map((m) => m.text),
        ['before', 'during', 'after'],
      );
    });
  },
  { background: true },
);
