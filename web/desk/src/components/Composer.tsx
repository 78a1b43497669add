import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { t } from '../i18n';
import { sendTyping } from '../live';
import { draftKey, store } from '../store';
import type { Message } from '../types';

export interface Canned {
  id: string;
  shortcut: string;
  text: string;
  lineId: string | null;
  userId: string | null;
}

let cannedCache: Promise<Canned[]> | null = null;
/** The canned replies I may use, read once; `forgetCanned` after a change reads them again. */
export function canned(): Promise<Canned[]> {
  cannedCache ??= api<{ items: Canned[] }>('GET', '/canned-replies')
    .then((r) => r.items)
    .catch(() => {
      cannedCache = null;
      return [];
    });
  return cannedCache;
}

export function forgetCanned(): void {
  cannedCache = null;
}

/** Reply or internal note; Enter sends, Shift+Enter is a new line, `/` opens canned replies. */
export function Composer({ sessionId, lineId }: { sessionId: string; lineId: string }) {
  const [text, setText] = useState(() => localStorage.getItem(draftKey(sessionId)) ?? '');
  const [mode, setMode] = useState<'reply' | 'note'>('reply');
  const [files, setFiles] = useState<File[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [replies, setReplies] = useState<Canned[]>([]);
  const [pick, setPick] = useState(0);
  const input = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    setText(localStorage.getItem(draftKey(sessionId)) ?? '');
    setFiles([]);
    setError(null);
  }, [sessionId]);
  useEffect(() => {
    void canned().then(setReplies);
  }, []);

  const slash = /^\/([\p{L}\p{N}_-]*)$/u.exec(text);
  const matches = slash
    ? replies
        .filter(
          (r) =>
            (r.lineId === null || r.lineId === lineId) &&
            r.shortcut.toLowerCase().startsWith(slash[1]!.toLowerCase()),
        )
        .slice(0, 8)
    : [];

  function update(value: string) {
    setText(value);
    setPick(0);
    if (value) localStorage.setItem(draftKey(sessionId), value);
    else localStorage.removeItem(draftKey(sessionId));
    if (value && mode === 'reply') sendTyping(sessionId);
  }

  function insert(r: Canned) {
    update(r.text);
    input.current?.focus();
  }

  async function send() {
    if (busy || (!text.trim() && files.length === 0)) return;
    setBusy(true);
    setError(null);
    try {
      let message: Message;
      if (mode === 'note') {
        message = await api<Message>('POST', `/sessions/${sessionId}/notes`, { text });
      } else if (files.length > 0) {
        const form = new FormData();
        if (text.trim()) form.append('text', text);
        for (const f of files) form.append('file', f, f.name);
        message = await api<Message>('POST', `/sessions/${sessionId}/messages`, form);
      } else {
        message = await api<Message>('POST', `/sessions/${sessionId}/messages`, { text });
      }
      store.upsertMessage(message);
      update('');
      setFiles([]);
    } catch (err) {
      // The draft stays: nothing typed is lost when a send fails.
      setError(`${t('sendFailed')}: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  }

  function onKeyDown(e: KeyboardEvent) {
    if (matches.length > 0) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setPick((p) => (p + (e.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length);
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        insert(matches[pick] ?? matches[0]!);
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void send();
    }
  }

  return (
    <form
      class={`composer ${mode}`}
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      <div class="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={mode === 'reply'} onClick={() => setMode('reply')}>
          {t('reply')}
        </button>
        <button
          type="button"
          role="tab"
          aria-selected={mode === 'note'}
          data-testid="note-mode"
          onClick={() => setMode('note')}
        >
          {t('note')}
        </button>
      </div>
      {matches.length > 0 && (
        <ul class="canned" aria-label="canned replies" data-testid="canned">
          {matches.map((r, i) => (
            <li class={i === pick ? 'picked' : ''}>
              <button type="button" aria-current={i === pick ? 'true' : undefined} onClick={() => insert(r)}>
                <b>/{r.shortcut}</b> {r.text}
              </button>
            </li>
          ))}
        </ul>
      )}
      <label class="sr-only" for="composer-text">
        {mode === 'note' ? t('notePlaceholder') : t('replyPlaceholder')}
      </label>
      <textarea
        id="composer-text"
        ref={input}
        data-testid="composer"
        rows={3}
        value={text}
        placeholder={mode === 'note' ? t('notePlaceholder') : t('replyPlaceholder')}
        onInput={(e) => update(e.currentTarget.value)}
        onKeyDown={onKeyDown}
      />
      {files.length > 0 && (
        <p class="files">
          {files.map((f) => (
            <span>{f.name} </span>
          ))}
        </p>
      )}
      {error && (
        <p class="error" role="alert" data-testid="send-error">
          {error}
        </p>
      )}
      <div class="row">
        {mode === 'reply' && (
          <>
            <input
              ref={fileInput}
              type="file"
              multiple
              class="sr-only"
              id="composer-files"
              onChange={(e) => setFiles([...(e.currentTarget.files ?? [])])}
            />
            <label for="composer-files" class="button">
              📎 {t('attach')}
            </label>
          </>
        )}
        <span class="spacer" />
        <button type="submit" class="primary" data-testid="send" disabled={busy}>
          {mode === 'note' ? t('note') : t('send')}
        </button>
      </div>
    </form>
  );
}
