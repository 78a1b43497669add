import { useEffect, useRef, useState } from 'preact/hooks';
import { api, fileUrl } from '../api';
import { useStore } from '../hooks';
import { since, t } from '../i18n';
import { store } from '../store';
import type { Attachment, Chat, Message, Priority } from '../types';
import { Composer } from './Composer';

export function Conversation() {
  const s = useStore();
  const c = s.conversation;
  const chat = s.selected ? s.chats.get(s.selected) : undefined;
  const end = useRef<HTMLDivElement>(null);
  const count = c?.messages.length ?? 0;
  useEffect(() => end.current?.scrollIntoView({ block: 'end' }), [count, c?.id]);
  if (!c || !chat) {
    return (
      <main class="conversation empty">
        <p class="muted">{t('noChat')}</p>
      </main>
    );
  }
  return (
    <main class="conversation" aria-label={chat.name}>
      <header>
        <h2 data-testid="conversation-name">{chat.name}</h2>
        <Actions chat={chat} actions={c.actions} />
      </header>
      <div class="messages" data-testid="messages" role="log" aria-live="polite">
        {c.nextCursor && (
          <button type="button" class="link" onClick={() => void store.olderMessages()}>
            {t('olderMessages')}
          </button>
        )}
        {c.messages.map((m) => (
          <Bubble m={m} key={m.id} />
        ))}
        {s.isTyping(c.id) && (
          <p class="typing" data-testid="client-typing">
            {chat.name} {t('typing')}
          </p>
        )}
        <div ref={end} />
      </div>
      {c.actions.includes('send') && <Composer sessionId={c.id} lineId={chat.lineId} />}
    </main>
  );
}

function Bubble({ m }: { m: Message }) {
  const kind = m.type === 'note' ? 'note' : m.direction === 'incoming' ? 'in' : 'out';
  async function retry() {
    try {
      const sent = await api<Message>('POST', `/sessions/${m.sessionId}/messages`, {
        text: m.text,
        fileIds: m.attachments.flatMap((a) => (a.fileId ? [a.fileId] : [])),
      });
      store.upsertMessage(sent);
    } catch (err) {
      store.fail(err);
    }
  }
  return (
    <div class={`bubble ${kind}`} data-testid={`bubble-${kind}`} data-status={m.status}>
      {m.type === 'note' && <span class="tag">{t('note')}</span>}
      {m.text && <p class="text">{m.text}</p>}
      {m.attachments.map((a) => (
        <AttachmentView a={a} />
      ))}
      <span class="meta">
        <time dateTime={m.createdAt} title={m.createdAt}>
          {new Date(m.createdAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
        </time>
        {m.editedAt && <span class="edited"> · {t('edited')}</span>}
        {kind === 'out' && <span class={`status status-${m.status}`}> · {t(m.status)}</span>}
      </span>
      {m.status === 'failed' && kind === 'out' && (
        <p class="error" role="alert">
          {t('sendFailed')}: {m.error?.message ?? ''}{' '}
          <button type="button" onClick={() => void retry()}>
            {t('retry')}
          </button>
        </p>
      )}
    </div>
  );
}

function AttachmentView({ a }: { a: Attachment }) {
  const [url, setUrl] = useState<string | null>(null);
  const image = a.mimeType?.startsWith('image/') && a.fileId;
  useEffect(() => {
    if (!image || !a.fileId) return;
    let revoked = false;
    let made: string | null = null;
    fileUrl(a.fileId)
      .then((u) => {
        made = u;
        if (!revoked) setUrl(u);
      })
      .catch(() => {});
    return () => {
      revoked = true;
      if (made) URL.revokeObjectURL(made);
    };
  }, [a.fileId]);
  async function download() {
    if (!a.fileId) return;
    const u = await fileUrl(a.fileId);
    const link = document.createElement('a');
    link.href = u;
    link.download = a.name ?? 'file';
    link.click();
    setTimeout(() => URL.revokeObjectURL(u), 10_000);
  }
  if (image && url) return <img class="attachment" src={url} alt={a.name ?? ''} />;
  return (
    <button type="button" class="file" onClick={() => void download()}>
      ⬇ {a.name ?? 'file'} {a.size ? `(${Math.ceil(a.size / 1024)} KB)` : ''}
    </button>
  );
}

interface Staff {
  id: string;
  name: string;
  role: string;
}

function Actions({ chat, actions }: { chat: Chat; actions: string[] }) {
  const [staff, setStaff] = useState<Staff[]>([]);
  const [groups, setGroups] = useState<{ id: string; name: string }[]>([]);
  const [target, setTarget] = useState('');
  useEffect(() => {
    if (!actions.includes('transfer')) return;
    void api<{ items: Staff[] }>('POST', '/users/search', {
      where: { field: 'role', op: 'in', value: ['operator', 'supervisor'] },
      size: 200,
    })
      .then((r) => setStaff(r.items.filter((u) => u.id !== store.user?.id)))
      .catch(() => {});
    void api<{ items: { id: string; name: string }[] }>('POST', '/groups/search', { size: 100 })
      .then((r) => setGroups(r.items))
      .catch(() => {});
  }, [chat.id, actions.includes('transfer')]);
  async function run(method: string, path: string, body?: unknown) {
    try {
      await api(method, path, body);
      await store.refreshChat(chat.id);
      await store.refreshConversation();
    } catch (err) {
      store.fail(err);
      await store.refreshChat(chat.id);
    }
  }
  return (
    <div class="actions" role="toolbar" aria-label="actions">
      <span class="muted">
        {chat.channel} · {since(chat.startedAt)}
      </span>
      {actions.includes('accept') && (
        <button
          type="button"
          class="primary"
          data-testid="accept"
          onClick={() => void run('POST', `/sessions/${chat.id}/accept`)}
        >
          {t('accept')}
        </button>
      )}
      {actions.includes('transfer') && (
        <span class="transfer">
          <label>
            <span class="sr-only">{t('transferTo')}</span>
            <select
              aria-label={t('transferTo')}
              data-testid="transfer-target"
              value={target}
              onChange={(e) => setTarget(e.currentTarget.value)}
            >
              <option value="">{t('transferTo')}…</option>
              {staff.map((u) => (
                <option value={`operator:${u.id}`}>{u.name}</option>
              ))}
              {groups.map((g) => (
                <option value={`group:${g.id}`}>{g.name}</option>
              ))}
            </select>
          </label>
          <button
            type="button"
            data-testid="transfer"
            disabled={!target}
            onClick={() => {
              const [kind, id] = target.split(':');
              void run(
                'POST',
                `/sessions/${chat.id}/transfer`,
                kind === 'group' ? { groupId: id } : { operatorId: id },
              );
            }}
          >
            {t('transfer')}
          </button>
        </span>
      )}
      {actions.includes('setPriority') && (
        <label>
          {t('priority')}{' '}
          <select
            value={chat.priority}
            onChange={(e) =>
              void run('PATCH', `/sessions/${chat.id}`, { priority: e.currentTarget.value as Priority })
            }
          >
            {(['High', 'Medium', 'Low'] as Priority[]).map((p) => (
              <option value={p}>{p}</option>
            ))}
          </select>
        </label>
      )}
      {actions.includes('returnToQueue') && (
        <button
          type="button"
          data-testid="return-to-queue"
          onClick={() => void run('POST', `/sessions/${chat.id}/return-to-queue`)}
        >
          {t('returnToQueue')}
        </button>
      )}
      {actions.includes('markAsSpam') && (
        <button type="button" onClick={() => void run('POST', `/sessions/${chat.id}/spam`)}>
          {t('spam')}
        </button>
      )}
      {actions.includes('unmarkAsSpam') && (
        <button type="button" onClick={() => void run('DELETE', `/sessions/${chat.id}/spam`)}>
          {t('unspam')}
        </button>
      )}
      {actions.includes('close') && (
        <button
          type="button"
          data-testid="close"
          onClick={() => void run('POST', `/sessions/${chat.id}/close`)}
        >
          {t('close')}
        </button>
      )}
    </div>
  );
}
