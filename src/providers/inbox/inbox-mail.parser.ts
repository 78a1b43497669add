/**
 * One raw e-mail (RFC 5322 bytes) to unified events, with postal-mime:
 *   - a delivery report (DSN, multipart/report) about one of our messages → a `delivery` failed event;
 *   - anything else from an address → a `message`: its text with quoted history and signature
 *     trimmed, its thread (In-Reply-To, References, subject), `automated` for auto-replies and bulk
 *     mail, and parts the file store keeps: the attachments and inline images, the sanitised HTML
 *     (message.html), the full text when it was trimmed (message.txt), and the original (message.eml).
 * Each part's ref is `<source ref>#<part>`; `loadPart` finds the part again in the same bytes.
 */
import { createHash } from 'node:crypto';
import type { Email } from 'postal-mime';
import PostalMime from 'postal-mime';
import type { InboundAttachment, InboundEvent } from '../provider.ts';
import { normalizeAddress } from './inbox.settings.ts';
import { htmlToText, sanitizeHtml } from './inbox-html.sanitizer.ts';
import { trimReply } from './inbox-reply.trimmer.ts';

type Part = { content: Buffer; name: string; mimeType: string };

async function parse(raw: Buffer): Promise<Email> {
  return PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' });
}

function header(mail: Email, key: string): string | undefined {
  return mail.headers.find((h) => h.key === key)?.value;
}

/** The `<id>` tokens of a header (Message-ID, In-Reply-To, References). */
export function messageIds(value: string | undefined): string[] {
  return [...(value ?? '').matchAll(/<[^<>\s]+>/g)].map((m) => m[0]);
}

/** The Message-ID, or one made from the bytes (the same on every read) when the mail has none. */
function messageIdOf(mail: Email, raw: Buffer): string {
  return (
    messageIds(mail.messageId)[0] ??
    `<${createHash('sha256').update(raw).digest('hex').slice(0, 40)}@no-message-id.omniline.invalid>`
  );
}

/** The subject without its reply and forward prefixes: the conversation's title. */
export function threadTitle(subject: string | undefined): string | null {
  let s = (subject ?? '').trim();
  for (let prev = ''; prev !== s; ) {
    prev = s;
    s = s.replace(/^(re|fw|fwd|aw|wg|sv|vs|antw)(\[\d+\])?\s*:\s*/i, '').trim();
  }
  return s === '' ? null : s.slice(0, 500);
}

/** RFC 3834 Auto-Submitted, Precedence bulk/junk/list, and the common auto-responder headers. */
function isAutomated(mail: Email): boolean {
  const auto = header(mail, 'auto-submitted');
  if (auto && auto.trim().toLowerCase() !== 'no') return true;
  if (/^\s*(bulk|junk|list|auto_reply)\s*$/i.test(header(mail, 'precedence') ?? '')) return true;
  return ['x-autoreply', 'x-autorespond', 'x-auto-response-suppress'].some((k) => {
    const v = header(mail, k);
    return v !== undefined && !(k === 'x-auto-response-suppress' && /^none$/i.test(v.trim()));
  });
}

const textOf = (content: Email['attachments'][number]['content']) =>
  typeof content === 'string' ? content : Buffer.from(content as ArrayBuffer).toString('utf8');

/** A delivery status notification: the Message-ID it reports on and why it failed; null when not one. */
function bounceOf(mail: Email): { messageId: string | null; failed: boolean; reason: string } | null {
  const type = header(mail, 'content-type') ?? '';
  const status = mail.attachments.find((a) => a.mimeType === 'message/delivery-status');
  if (!/multipart\/report/i.test(type) && !status) return null;
  if (!/report-type\s*=\s*"?delivery-status/i.test(type) && !status) return null;
  const report = status ? textOf(status.content) : '';
  const original = mail.attachments.find(
    (a) => a.mimeType === 'message/rfc822' || a.mimeType === 'text/rfc822-headers',
  );
  const originalId = original
    ? messageIds(/^message-id:\s*(.*)$/im.exec(textOf(original.content))?.[1])[0]
    : undefined;
  const actions = [...report.matchAll(/^action:\s*(\S+)/gim)].map((m) => m[1]!.toLowerCase());
  const diagnostic =
    /^diagnostic-code:\s*(?:smtp;\s*)?(.+)$/im.exec(report)?.[1]?.trim() ??
    /^status:\s*(\S+)/im.exec(report)?.[1] ??
    'the receiving server refused the message';
  return {
    messageId: originalId ?? messageIds(mail.inReplyTo)[0] ?? null,
    failed: actions.length === 0 || actions.includes('failed'),
    reason: diagnostic.slice(0, 1000),
  };
}

function bodyText(mail: Email): string {
  return (mail.text ?? (mail.html ? htmlToText(mail.html) : '')).replace(/\r\n/g, '\n').trim();
}

/** The parts of a mail the file store keeps, by part name (a0, a1… for attachments). */
function parts(mail: Email, raw: Buffer): Map<string, Part> {
  const out = new Map<string, Part>();
  mail.attachments.forEach((a, i) => {
    const ext = a.mimeType.split('/')[1]?.replace(/[^a-z0-9]/gi, '') || 'bin';
    out.set(`a${i}`, {
      content: typeof a.content === 'string' ? Buffer.from(a.content) : Buffer.from(a.content as ArrayBuffer),
      name: a.filename ?? `${a.disposition === 'inline' ? 'inline' : 'attachment'}-${i + 1}.${ext}`,
      mimeType: a.mimeType || 'application/octet-stream',
    });
  });
  if (mail.html) {
    out.set('html', {
      content: Buffer.from(sanitizeHtml(mail.html)),
      name: 'message.html',
      mimeType: 'text/html',
    });
  }
  const full = bodyText(mail);
  if (trimReply(full) !== full) {
    out.set('text', { content: Buffer.from(full), name: 'message.txt', mimeType: 'text/plain' });
  }
  out.set('eml', { content: raw, name: 'message.eml', mimeType: 'message/rfc822' });
  return out;
}

/** The events of one raw mail; `ref` finds the bytes again (the parts' refs start with it). */
export async function mailToEvents(raw: Buffer, ref: string, receivedAt: Date): Promise<InboundEvent[]> {
  const mail = await parse(raw);
  const from = mail.from?.address ? normalizeAddress(mail.from.address) : null;
  const timestamp = mail.date && !Number.isNaN(Date.parse(mail.date)) ? new Date(mail.date) : receivedAt;
  const bounce = bounceOf(mail);
  if (bounce?.messageId) {
    return bounce.failed
      ? [
          {
            kind: 'delivery',
            externalMessageId: bounce.messageId,
            status: 'failed',
            error: bounce.reason,
            timestamp,
          },
        ]
      : [];
  }
  if (!from) {
    return [{ kind: 'unsupported', description: 'an e-mail without a From address', timestamp }];
  }
  const name = mail.from?.name?.trim() || null;
  const [firstName, ...rest] = name ? name.split(/\s+/) : [];
  const stored = parts(mail, raw);
  const attachments: InboundAttachment[] = [...stored].map(([part, p]) => ({
    ref: `${ref}#${part}`,
    name: p.name,
    mimeType: p.mimeType,
    size: p.content.length,
  }));
  const references = [...new Set([...messageIds(mail.inReplyTo), ...messageIds(mail.references).reverse()])];
  const text = trimReply(bodyText(mail));
  const files = mail.attachments.length;
  return [
    {
      kind: 'message',
      externalMessageId: messageIdOf(mail, raw),
      from: { externalId: from, email: from, firstName: firstName ?? null, lastName: rest.join(' ') || null },
      type:
        text || files === 0 ? 'text' : mail.attachments[0]!.mimeType.startsWith('image/') ? 'image' : 'file',
      text: text || null,
      attachments,
      timestamp,
      thread: { references, title: threadTitle(mail.subject) },
      ...(bounce || isAutomated(mail) ? { automated: true } : {}),
    },
  ];
}

/** One stored part of a raw mail, by the part name of its ref; null when the mail has no such part. */
export async function loadPart(raw: Buffer, part: string): Promise<Part | null> {
  return parts(await parse(raw), raw).get(part) ?? null;
}
