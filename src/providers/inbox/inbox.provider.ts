/**
 * The e-mail channel (`inbox`): mail read from an IMAP folder, replies sent over SMTP, each thread a
 * session (the pipeline threads on In-Reply-To / References; the subject is the session's title).
 *
 * In:  the poller's rounds (one node at a time, by the channel's lease) read the folder with
 *      inbox-imap.fetcher.ts; each mail becomes events by inbox-mail.parser.ts.
 *      Or our SMTP listener (inbox-smtp.listener.ts) takes it for the channel's `smtpIn.address`.
 * Out: inbox-smtp.sender.ts.
 * Settings: inbox.settings.ts. `register` logs in to both servers and names the one that refused.
 */
import { Readable } from 'node:stream';
import type { ChannelProvider } from '../provider.ts';
import { ProviderError } from '../provider.ts';
import { inboxSettings, PUBLIC_INBOX_SETTINGS, validateInboxSettings } from './inbox.settings.ts';
import { fetchRaw, imapError, pollImap, withImap } from './inbox-imap.fetcher.ts';
import { loadPart } from './inbox-mail.parser.ts';
import { sendMail, smtpError, smtpTransport } from './inbox-smtp.sender.ts';
import { readStoredMail } from './inbox-stored-mail.ts';

export const inboxProvider: ChannelProvider = {
  name: 'inbox',
  channelType: 'inbox',
  publicSettings: PUBLIC_INBOX_SETTINGS,
  // Our Message-ID is made from our message id: a receiving server drops a repeated send.
  idempotentSend: true,
  threads: true,
  // A fetched batch of mail is stored with the folder's UID cursor in one transaction.
  pollsInBatches: true,

  validateSettings: validateInboxSettings,

  canSend(settings) {
    const smtp = settings.smtp as { host?: unknown } | undefined;
    return typeof smtp?.host === 'string' ? null : 'the inbox channel has no settings.smtp';
  },

  async register(ctx) {
    const s = inboxSettings(ctx.channel.settings);
    try {
      await withImap(s.imap, async (client) => {
        await client.mailboxOpen(s.imap.folder);
      });
    } catch (err) {
      const e = imapError(err, `IMAP ${s.imap.host}:${s.imap.port}`);
      const missing = /nonexistent|doesn't exist|not exist|unknown mailbox/i.test(e.message);
      throw new ProviderError(
        e.code,
        missing ? `IMAP folder "${s.imap.folder}" does not exist (${e.message})` : e.message,
        { retryable: false },
      );
    }
    const transport = smtpTransport(s.smtp, false);
    try {
      await transport.verify();
    } catch (err) {
      const e = smtpError(err, `SMTP ${s.smtp.host}:${s.smtp.port}`);
      throw new ProviderError(
        e.code === 'SMTP_UNAVAILABLE' ? 'SMTP_UNAVAILABLE' : 'SMTP_LOGIN_FAILED',
        e.message,
        {
          retryable: false,
        },
      );
    } finally {
      transport.close();
    }
    ctx.log.info({ channelId: ctx.channel.id, folder: s.imap.folder }, 'inbox channel registered');
    // The mailbox folder read is the channel's identity: two live channels never read one folder.
    return {
      source: `${s.imap.user.toLowerCase()}@${s.imap.host.toLowerCase()}:${s.imap.port}/${s.imap.folder}`,
    };
  },

  polls() {
    return true;
  },

  poll(ctx, cursor, signal) {
    return pollImap(ctx.channel.id, inboxSettings(ctx.channel.settings), cursor, signal);
  },

  send(ctx, message) {
    return sendMail(inboxSettings(ctx.channel.settings).smtp, message);
  },

  async loadAttachment(ctx, ref) {
    const hash = ref.lastIndexOf('#');
    if (hash < 0) throw new ProviderError('BAD_REF', 'not an e-mail part reference', { retryable: false });
    const source = ref.slice(0, hash);
    let raw: Buffer;
    if (source.startsWith('smtp:')) {
      // Taken by our SMTP listener: the original is in the file store.
      const stored = await readStoredMail(source.slice('smtp:'.length));
      if (!stored) throw new ProviderError('MESSAGE_GONE', 'the stored e-mail is gone', { retryable: false });
      raw = stored;
    } else {
      try {
        raw = await fetchRaw(inboxSettings(ctx.channel.settings).imap, source);
      } catch (err) {
        throw imapError(err);
      }
    }
    const part = await loadPart(raw, ref.slice(hash + 1));
    if (!part) throw new ProviderError('PART_GONE', 'the e-mail has no such part', { retryable: false });
    return {
      stream: Readable.from([part.content]),
      mimeType: part.mimeType,
      name: part.name,
      size: part.content.length,
    };
  },
};
