import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { since, t } from '../i18n';
import { store } from '../store';
import type { Chat } from '../types';
import { Metrics } from './Metrics';

interface Staff {
  id: string;
  name: string;
  status: string;
  openSessions: number;
  capacity: number;
}
type Where = Record<string, unknown>;

/**
 * The query box: a JSON filter of the search language as is, or `field:value` words (`field>=value`,
 * `field!=value`, `a,b` for `in`), joined with `and`.
 */
export function parseQuery(q: string): Where | null {
  const text = q.trim();
  if (!text) return null;
  if (text.startsWith('{')) return JSON.parse(text) as Where;
  const and = text.split(/\s+/).map((word) => {
    const m = /^([\w.]+)(:|!=|>=|<=|>|<)(.*)$/.exec(word);
    if (!m) return { field: 'state', op: 'eq', value: word };
    const [, field, sign, value] = m as unknown as [string, string, string, string];
    const op = {
      ':': value.includes(',') ? 'in' : 'eq',
      '!=': 'neq',
      '>=': 'gte',
      '<=': 'lte',
      '>': 'gt',
      '<': 'lt',
    }[sign]!;
    return { field, op, value: op === 'in' ? value.split(',') : value };
  });
  return and.length === 1 ? and[0]! : { and };
}

export function Supervision() {
  const [items, setItems] = useState<Chat[]>([]);
  const [total, setTotal] = useState(0);
  const [staff, setStaff] = useState<Staff[]>([]);
  const [filters, setFilters] = useState({ state: '', operatorId: '', channelId: '', priority: '' });
  const [query, setQuery] = useState('');
  const [queryError, setQueryError] = useState<string | null>(null);

  async function search() {
    const and: Where[] = [];
    for (const [field, value] of Object.entries(filters)) if (value) and.push({ field, op: 'eq', value });
    try {
      const q = parseQuery(query);
      if (q) and.push(q);
      setQueryError(null);
    } catch (err) {
      setQueryError((err as Error).message);
      return;
    }
    try {
      const res = await api<{ items: Chat[]; total: number }>('POST', '/desk/chats/search', {
        ...(and.length && { where: and.length === 1 ? and[0] : { and } }),
        sort: [{ field: 'startedAt', dir: 'desc' }],
        size: 200,
      });
      setItems(res.items);
      setTotal(res.total);
    } catch (err) {
      setQueryError((err as Error).message);
    }
  }
  async function loadStaff() {
    const res = await api<{ items: Staff[] }>('GET', '/desk/staff').catch(() => null);
    if (res) setStaff(res.items);
  }
  useEffect(() => {
    void search();
    void loadStaff();
    // Sessions and loads change with every live event; the supervisor's view follows the store.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = store.subscribe(() => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        void search();
        void loadStaff();
      }, 500);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [filters]);

  async function act(path: string, body: unknown) {
    try {
      await api('POST', path, body);
      await search();
    } catch (err) {
      store.fail(err);
    }
  }
  const channels = [...new Map(items.map((c) => [c.channelId, c.channel])).entries()];
  return (
    <div class="supervision">
      <section class="sessions" aria-labelledby="sv-sessions">
        <h2 id="sv-sessions">
          {t('allSessions')} <span class="count">{total}</span>
        </h2>
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            void search();
          }}
        >
          <label>
            {t('state')}
            <select
              value={filters.state}
              onChange={(e) => setFilters({ ...filters, state: e.currentTarget.value })}
            >
              <option value="">{t('any')}</option>
              {['Waiting', 'AssignedToBot', 'AssignedToOperator', 'Closed', 'MarkedAsSpam'].map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          </label>
          <label>
            {t('operator')}
            <select
              value={filters.operatorId}
              onChange={(e) => setFilters({ ...filters, operatorId: e.currentTarget.value })}
            >
              <option value="">{t('any')}</option>
              {staff.map((s) => (
                <option value={s.id}>{s.name}</option>
              ))}
            </select>
          </label>
          <label>
            {t('channel')}
            <select
              value={filters.channelId}
              onChange={(e) => setFilters({ ...filters, channelId: e.currentTarget.value })}
            >
              <option value="">{t('any')}</option>
              {channels.map(([id, type]) => (
                <option value={id}>{type}</option>
              ))}
            </select>
          </label>
          <label>
            {t('priority')}
            <select
              value={filters.priority}
              onChange={(e) => setFilters({ ...filters, priority: e.currentTarget.value })}
            >
              <option value="">{t('any')}</option>
              {['High', 'Medium', 'Low'].map((p) => (
                <option value={p}>{p}</option>
              ))}
            </select>
          </label>
          <label class="query">
            {t('query')}
            <input
              data-testid="query"
              value={query}
              placeholder={t('queryHelp')}
              aria-describedby="query-help"
              onInput={(e) => setQuery(e.currentTarget.value)}
            />
          </label>
          <button type="submit">{t('search')}</button>
          <small id="query-help" class="muted">
            {t('queryHelp')}
          </small>
          {queryError && (
            <p class="error" role="alert">
              {queryError}
            </p>
          )}
        </form>
        <table data-testid="sv-table">
          <thead>
            <tr>
              <th scope="col">{t('client')}</th>
              <th scope="col">{t('channel')}</th>
              <th scope="col">{t('state')}</th>
              <th scope="col">{t('operator')}</th>
              <th scope="col">{t('priority')}</th>
              <th scope="col">{t('waiting')}</th>
              <th scope="col" />
            </tr>
          </thead>
          <tbody>
            {items.map((c) => (
              <SessionRow chat={c} staff={staff} act={act} />
            ))}
          </tbody>
        </table>
      </section>
      <aside class="staff" aria-labelledby="sv-staff">
        <h2 id="sv-staff">{t('staffOnline')}</h2>
        <ul data-testid="staff">
          {staff.map((s) => (
            <li>
              <span class={`dot status-${s.status}`} aria-hidden="true" /> {s.name} —{' '}
              {t(s.status as 'online')} · {s.openSessions}/{s.capacity}
            </li>
          ))}
        </ul>
        <Metrics />
      </aside>
    </div>
  );
}

function SessionRow({
  chat,
  staff,
  act,
}: {
  chat: Chat;
  staff: Staff[];
  act: (path: string, body: unknown) => Promise<void>;
}) {
  const [target, setTarget] = useState('');
  const open =
    chat.status === 'Waiting' || chat.status === 'AssignedToOperator' || chat.status === 'AssignedToBot';
  const me = store.user?.id;
  return (
    <tr>
      <td>{chat.name}</td>
      <td>{chat.channel}</td>
      <td>{chat.status}</td>
      <td>{staff.find((s) => s.id === chat.operatorId)?.name ?? ''}</td>
      <td>{chat.priority}</td>
      <td>{since(chat.awaitingAnswerSince ?? chat.queuedAt ?? chat.startedAt)}</td>
      <td>
        {open && chat.operatorId !== me && (
          <button type="button" onClick={() => void act(`/sessions/${chat.id}/assign`, { operatorId: me })}>
            {t('takeOver')}
          </button>
        )}
        {open && (
          <>
            <select
              aria-label={t('transferTo')}
              value={target}
              onChange={(e) => setTarget(e.currentTarget.value)}
            >
              <option value="">{t('transferTo')}…</option>
              {staff
                .filter((s) => s.id !== chat.operatorId)
                .map((s) => (
                  <option value={s.id}>{s.name}</option>
                ))}
            </select>
            <button
              type="button"
              disabled={!target}
              onClick={() => void act(`/sessions/${chat.id}/transfer`, { operatorId: target })}
            >
              {t('transfer')}
            </button>
          </>
        )}
      </td>
    </tr>
  );
}
