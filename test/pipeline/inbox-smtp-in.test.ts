/**
 * SMTP in: our listener (smtp-server) takes mail for an inbox channel's `smtpIn.address` from a real
 * SMTP client (nodemailer) and stores it through the same pipeline as IMAP mail — sessions, threading,
 * attachments from the stored original, de-duplication on Message-ID — and refuses what it must:
 * unknown recipients (550), mail over the size cap (552), too many recipients (452).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import nodemailer, { type Transporter } from 'nodemailer';
import { describeEachDatabase } from '../helpers/app.ts';
import { type Dovecot, dovecotMissing, startDovecot } from '../helpers/dovecot.ts';
import { unique } from '../helpers/factories.ts';
import { inboxMailbox, mail, messagesOf } from '../helpers/inbox.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { waitFor } from '../helpers/wait.ts';

const missing = dovecotMissing();
if (missing) console.log(`# skipping the SMTP-in tests: ${missing}`);

const MAX_BYTES = 64 * 1024;

describeEachDatabase(
  'inbox channel: SMTP in',
  (ctx) => {
    if (missing) {
      it('needs dovecot', { skip: missing }, () => {});
      return;
    }
    let dovecot: Dovecot;
    let smtp: SmtpSink;
    let client: Transporter;
    before(async () => {
      dovecot = await startDovecot();
      smtp = await SmtpSink.start();
      const port = ctx().platform.smtpIn?.port;
      assert.ok(port, 'the SMTP-in listener listens');
      client = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
    });
    after(async () => {
      client?.close();
      await smtp?.close();
      await dovecot?.stop();
    });

    /** An inbox channel taking SMTP-in mail for its own address (nothing arrives over its IMAP). */
    async function channelWithAddress() {
      const address = `${unique('desk')}@in.help.test`;
      const box = await inboxMailbox(ctx(), dovecot, smtp, { smtpIn: { address: address.toUpperCase() } });
      assert.equal(box.channel.settings.smtpIn.address, address, 'stored lower-cased');
      return { ...box, address };
    }

    const send = (to: string | string[], raw: string, from = 'ann@client.test') =>
      client.sendMail({ envelope: { from, to }, raw });

    it('stores mail sent to the channel address as a session; attachments come from the stored original; a resend is stored once', async () => {
      const { channel, address } = await channelWithAddress();
      const b = 'smtp-in-boundary';
      const id = `<${unique('in')}@client.test>`;
      const raw = mail({
        from: 'Ann Smith <Ann@Client.test>',
        to: address,
        subject: 'Invoice wrong',
        id,
        contentType: `multipart/mixed; boundary="${b}"`,
        body: [
          `--${b}`,
          'Content-Type: text/plain; charset=utf-8',
          '',
          'The invoice is wrong.',
          `--${b}`,
          'Content-Type: application/pdf',
          'Content-Disposition: attachment; filename="invoice.pdf"',
          'Content-Transfer-Encoding: base64',
          '',
          Buffer.from('%PDF-1.4 smtp in').toString('base64'),
          `--${b}--`,
        ].join('\r\n'),
      });
      const info = await send(address.toUpperCase(), raw);
      assert.equal(info.accepted?.length, 1);
      // Stored before the 250: the message is there the moment the send returns.
      const [m] = await messagesOf(ctx(), channel.id);
      assert.ok(m, 'stored before the reply');
      assert.equal(m.text, 'The invoice is wrong.');
      assert.equal(m.external_id, id);
      const session = (await ctx().request('GET', `/api/v1/sessions/${m.session_id}`)).body;
      assert.equal(session.title, 'Invoice wrong');
      const parts = await waitFor(
        async () => {
          const [x] = await messagesOf(ctx(), channel.id);
          return x!.attachments.every((a) => a.fileId) && x!.attachments;
        },
        30_000,
        'parts loaded from the stored original',
      );
      const pdf = parts.find((a) => a.name === 'invoice.pdf');
      assert.ok(pdf, JSON.stringify(parts));
      const file = await ctx().app.inject({
        method: 'GET',
        url: `/api/v1/files/${pdf.fileId}`,
        headers: { authorization: `Bearer ${ctx().adminToken}` },
      });
      assert.equal(file.body, '%PDF-1.4 smtp in');
      // The sending server retries (our 250 was lost): the same Message-ID is not stored again.
      await send(address, raw);
      assert.equal((await messagesOf(ctx(), channel.id)).length, 1);

      // Our reply goes out over SMTP; the client's answer to it comes in over SMTP into this session.
      const sent = await ctx().request('POST', `/api/v1/sessions/${m.session_id}/messages`, {
        body: { text: 'Fixed, sorry.' },
      });
      assert.equal(sent.status, 201);
      const out = await waitFor(
        () => smtp.received.find((r) => r.to.includes('ann@client.test') && r.mail.text?.includes('Fixed')),
        30_000,
        'reply sent',
      );
      await send(
        address,
        mail({ from: 'ann@client.test', to: address, inReplyTo: out.mail.messageId!, body: 'Thanks!' }),
      );
      const answer = (await messagesOf(ctx(), channel.id)).find((x) => x.text === 'Thanks!');
      assert.equal(answer?.session_id, m.session_id);
    });

    it('refuses unknown recipients (550), too many recipients (452) and mail over the size cap (552)', async () => {
      const { channel, address } = await channelWithAddress();
      const unknown = await send('nobody@in.help.test', mail({ from: 'x@client.test' })).catch((e) => e);
      assert.equal(unknown.code, 'EENVELOPE');
      assert.equal(unknown.rejectedErrors?.[0]?.responseCode, 550, String(unknown));
      assert.match(unknown.rejectedErrors[0].response, /5\.1\.1 <nobody@in\.help\.test>/);

      // One known recipient among unknown ones: taken for the known one only.
      const mixed = await send(
        ['a@in.help.test', address, 'b@in.help.test'],
        mail({ from: 'x@client.test', body: 'mixed' }),
      );
      assert.deepEqual(mixed.accepted, [address]);
      assert.deepEqual(mixed.rejected, ['a@in.help.test', 'b@in.help.test']);
      // The cap of recipients per message (3 in this test app).
      const many = await send(
        [address, 'c@x.test', 'd@x.test', 'e@x.test'],
        mail({ from: 'x@client.test', body: 'many' }),
      );
      const last = many.rejectedErrors?.find((e: { recipient?: string }) => e.recipient === 'e@x.test');
      assert.equal((last as { responseCode?: number } | undefined)?.responseCode, 452);

      const big = await send(
        address,
        mail({ from: 'x@client.test', body: 'x'.repeat(MAX_BYTES + 1000) }),
      ).catch((e) => e);
      assert.equal(big.responseCode, 552, String(big));
      assert.deepEqual(
        (await messagesOf(ctx(), channel.id)).map((m) => m.text),
        ['mixed', 'many'],
      );
    });

    it('stops taking mail for a disconnected channel, and takes it again after reconnect', async () => {
      const { channel, address } = await channelWithAddress();
      assert.equal((await ctx().request('POST', `/api/v1/channels/${channel.id}/disconnect`)).status, 200);
      const refused = await send(address, mail({ from: 'x@client.test', body: 'while off' })).catch((e) => e);
      assert.equal(refused.rejectedErrors?.[0]?.responseCode, 550, String(refused));
      assert.equal((await ctx().request('POST', `/api/v1/channels/${channel.id}/reconnect`)).status, 200);
      await send(address, mail({ from: 'x@client.test', body: 'back on' }));
      assert.deepEqual(
        (await messagesOf(ctx(), channel.id)).map((m) => m.text),
        ['back on'],
      );
    });
  },
  { background: true, smtpIn: { maxBytes: MAX_BYTES, maxRecipients: 3 } },
);
