/** The launcher and the panel; the panel shows the pre-chat form, the offline form or the conversation. */
import type { JSX } from 'preact';
import type { Chat } from '../chat';
import { useChat } from '../hooks';
import { fill } from '../i18n';
import { Avatar } from './Avatar';
import { Conversation } from './Conversation';
import { Form } from './Form';

/** Black or white text, whichever reads better on the channel's colour. */
function onColor(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  return 0.299 * r + 0.587 * g + 0.114 * b > 160 ? '#111111' : '#ffffff';
}

export function Widget({ chat }: { chat: Chat }) {
  useChat(chat);
  const { config, t } = chat;
  if (!config) return null;
  const color = /^#[0-9a-f]{6}$/i.test(config.color) ? config.color : '#1f6feb';
  const style = { '--ol-color': color, '--ol-on-color': onColor(color) } as JSX.CSSProperties;
  const side = config.position === 'left' ? 'left' : 'right';
  const title = config.title || t.defaultTitle;
  const view = chat.view();
  return (
    <div class={`root ${side}`} style={style} lang={config.language} data-testid="widget">
      {chat.open && (
        <section class="panel" role="dialog" aria-label={title} data-testid="panel" data-view={view}>
          <header class="header">
            {chat.operator ? (
              <Avatar
                name={chat.operator.name ?? t.someone}
                url={chat.operator.avatarUrl}
                base={chat.boot.base}
              />
            ) : null}
            <div class="heading">
              <h2 class="title" data-testid="title">
                {chat.operator?.name ?? title}
              </h2>
              <p class="status" data-testid="status">
                {chat.connection === 'reconnecting'
                  ? t.reconnecting
                  : config.online
                    ? t.online
                    : t.offlineStatus}
              </p>
            </div>
            <button
              type="button"
              class="icon-button"
              aria-label={t.close}
              data-testid="close"
              onClick={() => chat.setOpen(false)}
            >
              <svg viewBox="0 0 24 24" aria-hidden="true">
                <path d="M6 6l12 12M18 6L6 18" />
              </svg>
            </button>
          </header>
          {view === 'unavailable' ? (
            <p class="problem" role="alert" data-testid="problem">
              {chat.problem === 'identity'
                ? t.identityRefused
                : chat.problem === 'refused'
                  ? t.refused
                  : t.unavailable}
            </p>
          ) : view === 'loading' ? null : view === 'prechat' || view === 'offline' ? (
            <Form chat={chat} offline={view === 'offline'} />
          ) : (
            <Conversation chat={chat} />
          )}
        </section>
      )}
      <button
        type="button"
        class="launcher"
        aria-label={
          chat.open ? t.close : chat.unread > 0 ? `${t.open} (${fill(t.unread, { n: chat.unread })})` : t.open
        }
        aria-expanded={chat.open}
        data-testid="launcher"
        onClick={() => chat.setOpen(!chat.open)}
      >
        {chat.open ? (
          <svg viewBox="0 0 24 24" aria-hidden="true">
            <path d="M6 6l12 12M18 6L6 18" />
          </svg>
        ) : (
          <svg viewBox="0 0 24 24" aria-hidden="true">
            <path d="M4 5h16v11H9l-5 4z" />
          </svg>
        )}
        {chat.unread > 0 && !chat.open && (
          <span class="badge" data-testid="unread" aria-hidden="true">
            {chat.unread > 9 ? '9+' : chat.unread}
          </span>
        )}
      </button>
    </div>
  );
}
