/**
 * The one tag a site adds:
 *
 *   <script src="https://<omniline>/widget.js" data-channel="<channelId>" async></script>
 *
 * draws a launcher and a chat panel inside a shadow root of its own element (`<omniline-widget>`):
 * the page's CSS cannot reach in (`:host { all: initial !important }` beats even the page's
 * `!important` rules on the element) and the widget's cannot leak out. The server is the script's
 * own origin. Optional, before the tag: `window.omnilineSettings = { identity: {id, name, email,
 * hash}, language: 'ru' }`; `data-language` on the tag chooses the language too. The page may call
 * `window.Omniline.open()`, `.close()`.
 */
import { render } from 'preact';
import type { Identity } from './api';
import { Chat } from './chat';
import { Widget } from './components/Widget';
import css from './styles.css?inline';

interface PageSettings {
  identity?: Identity;
  language?: string;
}

declare global {
  interface Window {
    omnilineSettings?: PageSettings;
    Omniline?: { open(): void; close(): void; chat: Chat };
  }
}

function ourScript(): HTMLScriptElement | null {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.dataset.channel) return current;
  return document.querySelector<HTMLScriptElement>('script[data-channel][src*="widget.js"]');
}

function mount(script: HTMLScriptElement): void {
  const channelId = script.dataset.channel!;
  const page = window.omnilineSettings ?? {};
  const identity =
    page.identity && typeof page.identity.id === 'string' && typeof page.identity.hash === 'string'
      ? page.identity
      : null;
  const chat = new Chat({
    base: new URL(script.src, location.href).origin,
    channelId,
    identity,
    language: script.dataset.language ?? page.language ?? null,
  });
  const host = document.createElement('omniline-widget');
  const shadow = host.attachShadow({ mode: 'open' });
  const style = document.createElement('style');
  style.textContent = css;
  const root = document.createElement('div');
  shadow.append(style, root);
  document.body.append(host);
  render(<Widget chat={chat} />, root);
  window.Omniline = { open: () => chat.setOpen(true), close: () => chat.setOpen(false), chat };
  void chat.load();
}

const script = ourScript();
if (!script) console.warn('omniline widget: no <script data-channel="…"> tag found');
else if (!window.Omniline) {
  if (document.body) mount(script);
  else document.addEventListener('DOMContentLoaded', () => mount(script), { once: true });
}
