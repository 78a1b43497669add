/**
 * Replies over SMTP (nodemailer, one pooled transport per channel settings). A reply carries our own
 * Message-ID made from our message id — so a retry after a crash sends the same Message-ID and the
 * receiving server can drop the copy — with In-Reply-To and References of the conversation, the
 * `Re:` subject, the operator's name, text and HTML bodies and the attachments.
 * 5xx answers fail the message with the server's reply; anything else is retried with backoff.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { OutboundMessage } from '../provider.ts';
import { ProviderError } from '../provider.ts';
import type { SmtpSettings } from './inbox.settings.ts';
import { escapeHtml } from './inbox-html.sanitizer.ts';

const transports = new Map<string, Transporter>();

export function smtpTransport(s: SmtpSettings, pool = true): Transporter {
  const options = {
    host: s.host,
    port: s.port,
    secure: s.secure,
    ...(s.user ? { auth: { user: s.user, pass: s.password ?? '' } } : {}),
    connectionTimeout: 15_000,
    greetingTimeout: 10_000,
    socketTimeout: 60_000,
  };
  if (!pool) return nodemailer.createTransport(options);
  const key = JSON.stringify(s);
  let t = transports.get(key);
  if (!t) {
    t = nodemailer.createTransport({ ...options, pool: true, maxConnections: 3 });
    transports.set(key, t);
  }
  return t;
}

/** The address part of `from` ("Support <help@example.com>" → help@example.com). */
export function fromAddress(from: string): string {
  return (/<([^>]+)>\s*$/.exec(from)?.[1] ?? from).trim();
}

/** Our Message-ID of an outgoing message: the same for every attempt at sending it. */
export function outgoingMessageId(messageId: string, from: string): string {
  const domain = fromAddress(from).split('@')[1] ?? 'omniline.invalid';
  return `<${messageId}@${domain}>`;
}

export function replySubject(title: string | null): string {
  const t = title?.trim() || 'Your message';
  return /^re\s*:/i.test(t) ? t : `Re: ${t}`;
}

/** An SMTP failure as a provider error: 5xx for good (with the server's reply), the rest retried. */
export function smtpError(err: unknown, what = 'SMTP'): ProviderError {
  const e = err as { responseCode?: number; response?: string; message?: string; code?: string };
  const reply = e.response || e.message || String(err);
  if (e.responseCode && e.responseCode >= 500 && e.responseCode < 600) {
    return new ProviderError('SMTP_REJECTED', `${what} refused: ${reply}`, {
      retryable: false,
      status: e.responseCode,
    });
  }
  if (e.code === 'EAUTH')
    return new ProviderError('SMTP_LOGIN_FAILED', `${what} login refused: ${reply}`, { retryable: false });
  return new ProviderError('SMTP_UNAVAILABLE', `${what}: ${reply}`, {
    retryable: true,
    ...(e.responseCode ? { status: e.responseCode } : {}),
  });
}

export async function sendMail(s: SmtpSettings, message: OutboundMessage): Promise<{ externalId: string }> {
  const to = message.to.email ?? message.to.externalId;
  const messageId = outgoingMessageId(message.id, s.from);
  const references = message.thread?.references ?? [];
  const text = message.text ?? '';
  const name = message.sender.type === 'operator' && message.sender.name ? message.sender.name : null;
  try {
    await smtpTransport(s).sendMail({
      from: name ? { name, address: fromAddress(s.from) } : s.from,
      to,
      subject: replySubject(message.thread?.title ?? null),
      messageId,
      ...(references.length > 0 ? { inReplyTo: references.at(-1), references } : {}),
      text,
      html: `<div>${escapeHtml(text).replace(/\r?\n/g, '<br>')}</div>`,
      attachments: message.attachments.map((a) => ({
        filename: a.name ?? 'attachment',
        contentType: a.mimeType,
        content: a.open(),
      })),
    });
  } catch (err) {
    throw smtpError(err);
  }
  return { externalId: messageId };
}
