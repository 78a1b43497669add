/**
 * What the e-mail (inbox) channel tests share: a raw mail builder, a mailbox of its own on the test
 * Dovecot with an active inbox channel reading it, and the channel's stored messages.
 */
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../../src/db/client.ts';
import type { TestContext } from './app.ts';
import type { Dovecot } from './dovecot.ts';
import { createLine, unique } from './factories.ts';
import type { SmtpSink } from './smtp-sink.ts';

export const SUPPORT = 'support@help.test';

/** One raw RFC 5322 mail to the support address. */
export function mail(fields: {
  from: string;
  to?: string;
  subject?: string;
  id?: string;
  inReplyTo?: string;
  headers?: Record<string, string>;
  body?: string;
  contentType?: string;
}): string {
  const lines = [
    `From: ${fields.from}`,
    `To: ${fields.to ?? SUPPORT}`,
    `Subject: ${fields.subject ?? 'Help please'}`,
    `Message-ID: ${fields.id ?? `<${unique('m')}@client.test>`}`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    ...(fields.inReplyTo ? [`In-Reply-To: ${fields.inReplyTo}`, `References: ${fields.inReplyTo}`] : []),
    ...Object.entries(fields.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    `Content-Type: ${fields.contentType ?? 'text/plain; charset=utf-8'}`,
  ];
  return `${lines.join('\r\n')}\r\n\r\n${fields.body ?? 'My printer is on fire.'}\r\n`;
}

export interface StoredMail {
  id: string;
  text: string | null;
  external_id: string | null;
  session_id: string;
  direction: string;
  status: string;
  error: any;
  attachments: { fileId: string | null; name: string | null; mimeType: string | null }[];
}

export async function messagesOf(ctx: { db: Db }, channelId: string): Promise<StoredMail[]> {
  return queryRows<StoredMail>(
    ctx.db,
    sql`SELECT id, text, external_id, session_id, direction, status, error, attachments FROM messages
        WHERE channel_id = ${channelId} ORDER BY seq`,
  );
}

/** Inbox channel settings reading `user`'s mailbox and sending through the sink. */
export function inboxSettings(
  dovecot: Dovecot,
  smtp: SmtpSink,
  user: string,
  password: string,
  extra: Record<string, unknown> = {},
) {
  return {
    imap: { host: dovecot.host, port: dovecot.port, secure: false, user, password },
    smtp: {
      host: '127.0.0.1',
      port: smtp.port,
      secure: false,
      user: smtp.user,
      password: smtp.password,
      from: `Help Desk <${SUPPORT}>`,
    },
    ...extra,
  };
}

/** A mailbox of its own and an active inbox channel reading it. */
export async function inboxMailbox(
  ctx: TestContext,
  dovecot: Dovecot,
  smtp: SmtpSink,
  extra: Record<string, unknown> = {},
) {
  const user = `${unique('box')}@help.test`;
  const password = unique('pw');
  await dovecot.addUser(user, password);
  const line = await createLine(ctx);
  const res = await ctx.request('POST', '/api/v1/channels', {
    body: {
      lineId: line.id,
      name: unique('mail'),
      type: 'inbox',
      settings: inboxSettings(dovecot, smtp, user, password, extra),
    },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const append = (...raws: string[]) => dovecot.append(user, password, raws);
  return { user, password, line, channel: res.body as { id: string; settings: any }, append };
}
