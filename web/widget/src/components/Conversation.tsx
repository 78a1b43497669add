/**
 * The conversation: earlier pages on demand, the messages (text and attachments, always rendered as
 * text — never as HTML), the operator's typing, read receipts on the visitor's messages, the rating
 * when a session ends, and the composer.
 */
import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';
import type { VisitorAttachment } from '../../../../src/providers/livechat/visitor-events';
import type { Chat, ChatMessage } from '../chat';
import { fill } from '../i18n';
import { safeUrl } from '../url';
import { Composer } from './Composer';
import { Rating } from './Rating';

export function Conversation({ chat }: { chat: Chat }) {
  const { t, config } = chat;
  const list = useRef<HTMLDivElement>(null);
  const messages = chat.sorted();
  const last = messages.at(-1)?.key;
  const typing = chat.operatorTyping();
  // Keep to the bottom when something new comes (not when an earlier page is added above).
  useLayoutEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [last, typing, chat.rating?.state]);
  useEffect(() => {
    list.current?.closest('.panel')?.querySelector<HTMLTextAreaElement>('textarea')?.focus();
  }, []);

  return (
    <>
      <div class="messages" ref={list} role="log" aria-live="polite" data-testid="messages">
        {chat.nextCursor && (
          <button
            type="button"
            class="earlier"
            disabled={chat.loadingEarlier}
            onClick={() => chat.loadEarlier()}
            data-testid="earlier"
          >
            {t.earlier}
          </button>
        )}
        {config?.greeting && !chat.nextCursor && <p class="bubble in greeting">{config.greeting}</p>}
        {chat.offlineSent && !config?.online && (
          <p class="info" data-testid="offline-thanks">
            {t.offlineThanks}
          </p>
        )}
        {messages.map((m) => (
          <Message key={m.key} m={m} chat={chat} />
        ))}
        {typing && (
          <p class="typing" data-testid="typing">
            {fill(t.typing, { name: chat.operator?.name ?? t.someone })}
          </p>
        )}
        {chat.rating && <Rating chat={chat} />}
      </div>
      {chat.notice && (
        <p class="notice" role="alert" data-testid="notice">
          {chat.notice}
        </p>
      )}
      <Composer chat={chat} />
    </>
  );
}

function Message({ m, chat }: { m: ChatMessage; chat: Chat }) {
  const { t } = chat;
  if (m.info) return <p class="info">{m.text}</p>;
  const mine = m.author === 'visitor';
  const read = mine && m.status === 'sent' && chat.readAt !== null && m.createdAt <= chat.readAt;
  const status = read
    ? t.read
    : m.status === 'failed'
      ? t.failed
      : m.status === 'sending'
        ? t.sending
        : t.sent;
  return (
    <div class={`message ${mine ? 'out' : 'in'}`} data-testid={mine ? 'visitor-message' : 'operator-message'}>
      {!mine && m.name && <span class="author">{m.name}</span>}
      <div class={`bubble ${mine ? 'out' : 'in'}`}>
        {m.text && <p class="text">{m.text}</p>}
        {m.attachments.map((a, i) => (
          <Attachment key={i} a={a} base={chat.boot.base} />
        ))}
      </div>
      <span class="meta">
        <time dateTime={m.createdAt}>{timeOf(m.createdAt)}</time>
        {mine && (
          <span
            class={`receipt ${read ? 'read' : m.status}`}
            data-testid="receipt"
            data-state={read ? 'read' : m.status}
          >
            {' · '}
            {status}
          </span>
        )}
        {m.status === 'failed' && (
          <button type="button" class="link" onClick={() => chat.retry(m.key)}>
            {t.retry}
          </button>
        )}
      </span>
    </div>
  );
}

function Attachment({ a, base }: { a: VisitorAttachment; base: string }) {
  const url = a.url ? safeUrl(a.url, base) : null;
  const name = a.name ?? 'file';
  if (url && a.mimeType?.startsWith('image/'))
    return (
      <a href={url} target="_blank" rel="noopener noreferrer" class="image">
        <img src={url} alt={name} loading="lazy" />
      </a>
    );
  return url ? (
    <a href={url} target="_blank" rel="noopener noreferrer" class="file" download={name}>
      {name}
    </a>
  ) : (
    <span class="file">{name}</span>
  );
}

function timeOf(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? ''
    : `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}
