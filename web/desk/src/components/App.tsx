import { useEffect } from 'preact/hooks';
import { ApiError, api, auth } from '../api';
import { useStore } from '../hooks';
import { t } from '../i18n';
import { connectLive, disconnectLive } from '../live';
import { store } from '../store';
import type { User } from '../types';
import { CannedEditor } from './CannedEditor';
import { Header } from './Header';
import { Login } from './Login';
import { Supervision } from './Supervision';
import { Workspace } from './Workspace';

auth.onUnauthorized(() => {
  store.end('tokenExpired');
  disconnectLive();
});

/** Signs in with a token: who am I, my status, the lists, the live connection. */
export async function start(token: string): Promise<void> {
  auth.set(token);
  store.ended = null;
  const [user, status] = await Promise.all([
    api<User>('GET', '/me'),
    api<{ status: typeof store.status; maxSessions: number | null }>('GET', '/me/status'),
  ]);
  store.user = user;
  store.status = status.status;
  store.maxSessions = status.maxSessions;
  await store.reload();
  connectLive(token);
}

export function App() {
  const s = useStore();
  useEffect(() => {
    if (auth.token && !s.user) {
      start(auth.token).catch((err) => {
        if (!(err instanceof ApiError && err.status === 401)) store.fail(err);
        auth.set(null);
        store.changed();
      });
    }
  }, []);
  useEffect(() => {
    const n = s.unreadTotal();
    document.title = `${n > 0 ? `(${n}) ` : ''}${t('title')}`;
  });

  if (s.ended) {
    return (
      <main class="ended" role="alert">
        <p data-testid="ended">{t(s.ended)}</p>
        <button
          type="button"
          onClick={() => {
            store.ended = null;
            store.reset();
          }}
        >
          {t('signIn')}
        </button>
      </main>
    );
  }
  if (!s.user) return <Login />;
  return (
    <div class="desk">
      <Header />
      {s.connection === 'unreachable' && (
        <div class="banner warn" role="status" data-testid="unreachable">
          {t('unreachable')}
        </div>
      )}
      {s.notice && (
        <div class="banner info" role="status">
          {t(s.notice as 'reloaded')}
          <button type="button" class="link" onClick={() => store.set({ notice: null })}>
            ×
          </button>
        </div>
      )}
      {s.error && (
        <div class="banner error" role="alert">
          {s.error}
          <button type="button" class="link" aria-label="dismiss" onClick={() => store.set({ error: null })}>
            ×
          </button>
        </div>
      )}
      {s.view === 'supervision' ? <Supervision /> : s.view === 'canned' ? <CannedEditor /> : <Workspace />}
    </div>
  );
}
