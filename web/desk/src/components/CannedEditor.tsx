import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { t } from '../i18n';
import { store } from '../store';
import { type Canned, canned, forgetCanned } from './Composer';

/** The canned replies I may change: my own, and (supervisors, admins) those of my lines. */
export function CannedEditor() {
  const [items, setItems] = useState<Canned[]>([]);
  const [lines, setLines] = useState<{ id: string; name: string }[]>([]);
  const [editing, setEditing] = useState<Canned | null>(null);
  const [shortcut, setShortcut] = useState('');
  const [text, setText] = useState('');
  const [lineId, setLineId] = useState('');
  const [error, setError] = useState<string | null>(null);
  const manager = store.user?.role === 'supervisor' || store.user?.role === 'admin';
  const load = () => void canned().then(setItems);
  useEffect(() => {
    load();
    if (manager)
      void api<{ items: { id: string; name: string }[] }>('POST', '/lines/search', { size: 100 })
        .then((r) => setLines(r.items))
        .catch(() => {});
  }, []);
  const mayChange = (c: Canned) => c.userId === store.user?.id || (manager && c.lineId !== null);
  function clear() {
    setEditing(null);
    setShortcut('');
    setText('');
    setLineId('');
  }
  async function save(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      if (editing) await api('PATCH', `/canned-replies/${editing.id}`, { shortcut, text });
      else await api('POST', '/canned-replies', { shortcut, text, ...(lineId ? { lineId } : {}) });
      forgetCanned();
      clear();
      load();
    } catch (err) {
      setError((err as Error).message);
    }
  }
  async function remove(c: Canned) {
    try {
      await api('DELETE', `/canned-replies/${c.id}`);
      forgetCanned();
      load();
    } catch (err) {
      setError((err as Error).message);
    }
  }
  const lineName = (id: string | null) => (id ? (lines.find((l) => l.id === id)?.name ?? id) : t('personal'));
  return (
    <main class="canned-editor" aria-labelledby="canned-title" data-testid="canned-editor">
      <h2 id="canned-title">{t('cannedReplies')}</h2>
      <ul>
        {items.map((c) => (
          <li data-testid="canned-item" key={c.id}>
            <b>/{c.shortcut}</b> <span class="muted">{lineName(c.lineId)}</span>
            <p class="text">{c.text}</p>
            {mayChange(c) && (
              <>
                <button
                  type="button"
                  data-testid="canned-edit"
                  onClick={() => {
                    setEditing(c);
                    setShortcut(c.shortcut);
                    setText(c.text);
                  }}
                >
                  {t('edit')}
                </button>{' '}
                <button type="button" data-testid="canned-delete" onClick={() => void remove(c)}>
                  {t('delete')}
                </button>
              </>
            )}
          </li>
        ))}
      </ul>
      <form onSubmit={save}>
        <label>
          {t('shortcut')}
          <input
            data-testid="canned-shortcut"
            value={shortcut}
            required
            maxLength={40}
            onInput={(e) => setShortcut(e.currentTarget.value)}
          />
        </label>
        <label>
          {t('cannedText')}
          <textarea
            data-testid="canned-text"
            value={text}
            required
            rows={3}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </label>
        {manager && !editing && (
          <label>
            {t('cannedLine')}
            <select value={lineId} onChange={(e) => setLineId(e.currentTarget.value)}>
              <option value="">{t('personal')}</option>
              {lines.map((l) => (
                <option value={l.id}>{l.name}</option>
              ))}
            </select>
          </label>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" data-testid="canned-save">
          {editing ? t('save') : t('add')}
        </button>{' '}
        {editing && (
          <button type="button" onClick={clear}>
            {t('cancel')}
          </button>
        )}
      </form>
    </main>
  );
}
