import { useState } from 'preact/hooks';
import { ApiError, api } from '../api';
import { t } from '../i18n';
import { askNotificationPermission } from '../notify';
import { start } from './App';

export function Login() {
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    // Asked on the user's gesture (this click), never at page load: browsers refuse it otherwise.
    askNotificationPermission();
    setBusy(true);
    setError(null);
    try {
      const res = await api<{ token: string }>('POST', '/auth/login', { login, password });
      await start(res.token);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 0
          ? t('unreachable')
          : `${t('signInFailed')}: ${(err as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  }
  return (
    <main class="login">
      <form onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">{t('title')}</h1>
        <label>
          {t('login')}
          <input
            name="login"
            autocomplete="username"
            value={login}
            onInput={(e) => setLogin(e.currentTarget.value)}
            required
          />
        </label>
        <label>
          {t('password')}
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {t('signIn')}
        </button>
      </form>
    </main>
  );
}
