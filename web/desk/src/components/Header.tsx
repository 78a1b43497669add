import { api } from '../api';
import { useStore } from '../hooks';
import { type Lang, lang, setLang, t } from '../i18n';
import { disconnectLive } from '../live';
import { store } from '../store';
import type { OperatorStatus } from '../types';

const STATUSES: OperatorStatus[] = ['online', 'busy', 'away', 'offline'];

export function Header() {
  const s = useStore();
  const manager = s.user?.role === 'supervisor' || s.user?.role === 'admin';
  const load = s.list('mine').length;
  async function setStatus(status: OperatorStatus) {
    try {
      const res = await api<{ status: OperatorStatus }>('PUT', '/me/status', { status });
      store.status = res.status;
      store.changed();
    } catch (err) {
      store.fail(err);
    }
  }
  async function signOut() {
    // Logging out makes the operator offline (the server does it with the logout).
    await api('POST', '/auth/logout').catch(() => {});
    disconnectLive();
    store.end('loggedOut');
  }
  return (
    <header class="top">
      <h1>{t('title')}</h1>
      {manager && (
        <nav aria-label="views">
          <button
            type="button"
            aria-pressed={s.view === 'workspace'}
            onClick={() => store.set({ view: 'workspace' })}
          >
            {t('workspace')}
          </button>
          <button
            type="button"
            aria-pressed={s.view === 'supervision'}
            data-testid="to-supervision"
            onClick={() => store.set({ view: 'supervision' })}
          >
            {t('supervision')}
          </button>
        </nav>
      )}
      <button
        type="button"
        aria-pressed={s.view === 'canned'}
        data-testid="to-canned"
        onClick={() => store.set({ view: s.view === 'canned' ? 'workspace' : 'canned' })}
      >
        {t('cannedReplies')}
      </button>
      <span class="spacer" />
      <label>
        {t('status')}{' '}
        <select
          data-testid="status"
          value={s.status}
          onChange={(e) => void setStatus(e.currentTarget.value as OperatorStatus)}
          class={`status-${s.status}`}
        >
          {STATUSES.map((st) => (
            <option value={st}>{t(st)}</option>
          ))}
        </select>
      </label>
      <span title={t('capacity')} data-testid="load">
        {t('capacity')}: {load}
        {s.maxSessions ? ` / ${s.maxSessions}` : ''}
      </span>
      <label>
        <span class="sr-only">{t('language')}</span>
        <select
          aria-label={t('language')}
          value={lang}
          onChange={(e) => {
            setLang(e.currentTarget.value as Lang);
            store.changed();
          }}
        >
          <option value="en">EN</option>
          <option value="ru">RU</option>
        </select>
      </label>
      <span class="me">{s.user?.name}</span>
      <button type="button" onClick={() => void signOut()}>
        {t('signOut')}
      </button>
    </header>
  );
}
