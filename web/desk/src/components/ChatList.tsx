import { useStore } from '../hooks';
import { since, t } from '../i18n';
import { type ListName, store } from '../store';
import type { Chat } from '../types';

const LISTS: ListName[] = ['offers', 'mine', 'queue', 'closed'];
const ICONS: Record<string, string> = {
  telegram: '✈',
  telegramBot: '✈',
  whatsapp: '☎',
  viberbot: '☎',
  facebook: 'f',
  instagram: '◎',
  livechat: '💬',
  inbox: '✉',
  api: '⇄',
};

/** The four lists, each in the router's order; every text in them is the customer's, as text. */
export function ChatList() {
  const s = useStore();
  return (
    <nav class="lists" aria-label="conversations">
      {LISTS.map((name) => {
        const items = s.list(name);
        return (
          <section aria-labelledby={`list-${name}`} data-testid={`list-${name}`}>
            <h2 id={`list-${name}`}>
              {t(name)} <span class="count">{items.length}</span>
            </h2>
            {items.length === 0 ? (
              <p class="muted">{t('empty')}</p>
            ) : (
              <ul>
                {items.map((c) => (
                  <ChatItem chat={c} selected={s.selected === c.id} key={c.id} />
                ))}
              </ul>
            )}
          </section>
        );
      })}
    </nav>
  );
}

function ChatItem({ chat, selected }: { chat: Chat; selected: boolean }) {
  const unread = chat.unreadClientMessageCount ?? 0;
  const last = chat.lastMessage;
  const preview = last ? (last.text ?? last.attachments.map((a) => a.name ?? 'file').join(', ')) : '';
  return (
    <li>
      <button
        type="button"
        class={`chat ${selected ? 'selected' : ''} prio-${chat.priority}`}
        aria-current={selected ? 'true' : undefined}
        data-testid="chat"
        data-session={chat.id}
        onClick={() => void store.select(chat.id)}
      >
        <span class="icon" aria-hidden="true" title={chat.channel}>
          {ICONS[chat.channel] ?? '•'}
        </span>
        <span class="sr-only">{chat.channel}</span>
        <span class="body">
          <span class="name">{chat.name}</span>
          <span class="preview">{preview}</span>
        </span>
        <span class="meta">
          {chat.priority !== 'Medium' && <span class={`prio prio-${chat.priority}`}>{chat.priority}</span>}
          <span class="wait" title={t('waiting')}>
            {since(chat.awaitingAnswerSince ?? chat.queuedAt ?? chat.lastMessageCreatedAt)}
          </span>
          {unread > 0 && (
            <span class="badge">
              {unread}
              <span class="sr-only"> unread</span>
            </span>
          )}
        </span>
      </button>
    </li>
  );
}
