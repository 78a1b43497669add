/**
 * Writing: Enter sends, Shift+Enter is a new line; typing is told to the operator (at most every
 * 3 s). Files (when the channel takes them: `config.maxUploadBytes` > 0) are checked against its
 * size and type limits here first (the server checks again, by content), uploaded
 * (`POST /livechat/:channelId/files`), then sent as one message with the text.
 */
import { useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';
import type { Chat } from '../chat';
import { fill } from '../i18n';

const MAX_TEXT = 4000;

function sizeLabel(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / 1024 / 1024)} MB` : `${Math.round(bytes / 1024)} KB`;
}

/** Whether a type matches a limit's entry (`image/png`, or `image/*`). */
function typeAllowed(type: string, allowed: string[]): boolean {
  return allowed.some((a) => (a.endsWith('/*') ? type.startsWith(a.slice(0, -1)) : a === type));
}

export function Composer({ chat }: { chat: Chat }) {
  const { t, config } = chat;
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const file = useRef<HTMLInputElement>(null);
  const maxBytes = config?.maxUploadBytes ?? 0;
  const uploads = maxBytes > 0 ? { maxBytes, mimeTypes: config?.uploadTypes ?? [] } : null;

  function submit() {
    const value = text.trim();
    if (!value || busy) return;
    chat.send(value);
    setText('');
  }

  async function attach(files: FileList | null) {
    if (!files || files.length === 0 || !uploads) return;
    const picked = [...files];
    if (file.current) file.current.value = '';
    for (const f of picked) {
      if (f.size > uploads.maxBytes) {
        chat.notice = fill(t.fileTooLarge, { max: sizeLabel(uploads.maxBytes) });
        chat.changed();
        return;
      }
      if (uploads.mimeTypes.length > 0 && !typeAllowed(f.type, uploads.mimeTypes)) {
        chat.notice = t.fileType;
        chat.changed();
        return;
      }
    }
    setBusy(true);
    chat.notice = null;
    try {
      await chat.start();
      const stored = [];
      for (const f of picked) {
        const up = await chat.api.upload(f);
        stored.push({
          fileId: up.id,
          attachment: {
            name: up.name ?? f.name,
            mimeType: up.mimeType,
            size: up.size,
            url: up.url,
          },
        });
      }
      chat.send(text.trim(), stored);
      setText('');
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      chat.notice =
        status === 413
          ? fill(t.fileTooLarge, { max: sizeLabel(maxBytes) })
          : status === 415
            ? t.fileType
            : t.uploadFailed;
    } finally {
      setBusy(false);
      chat.changed();
    }
  }

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <label class="sr-only" for="ol-composer">
        {t.composerLabel}
      </label>
      <textarea
        id="ol-composer"
        data-testid="composer"
        rows={1}
        maxLength={MAX_TEXT}
        placeholder={t.composer}
        value={text}
        onInput={(e) => {
          setText(e.currentTarget.value);
          chat.typing();
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            submit();
          }
        }}
      />
      {uploads && (
        <>
          <input
            ref={file}
            type="file"
            class="sr-only"
            id="ol-file"
            tabIndex={-1}
            accept={uploads.mimeTypes.join(',') || undefined}
            data-testid="file-input"
            onChange={(e) => attach(e.currentTarget.files)}
          />
          <button
            type="button"
            class="icon-button"
            aria-label={t.attach}
            disabled={busy}
            data-testid="attach"
            onClick={() => file.current?.click()}
          >
            <svg viewBox="0 0 24 24" aria-hidden="true">
              <path d="M16 7l-7 7a2 2 0 0 0 3 3l7-7a4 4 0 0 0-6-6l-7 7a6 6 0 0 0 8 8l6-6" />
            </svg>
          </button>
        </>
      )}
      <button
        type="submit"
        class="icon-button send"
        aria-label={t.send}
        disabled={!text.trim() || busy}
        data-testid="send"
      >
        <svg viewBox="0 0 24 24" aria-hidden="true">
          <path d="M4 12l16-8-6 16-2-6z" />
        </svg>
      </button>
    </form>
  );
}
