import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { since, t } from '../i18n';
import { store } from '../store';
import type { Chat } from '../types';

interface Client {
  id: string;
  externalId: string;
  username: string | null;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  email: string | null;
  online: boolean;
  applicationItem: { type: string; id: string } | null;
}
interface Contact {
  id: string;
  name: string;
  phones: string[];
  emails: string[];
  notes: string | null;
}

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** The client, their CRM contact (edit, link to another, merge) and the previous sessions of the chain. */
export function ClientPanel({ chat }: { chat: Chat }) {
  const [client, setClient] = useState<Client | null>(null);
  const [contact, setContact] = useState<Contact | null>(null);
  const [previous, setPrevious] = useState<Chat[]>([]);
  const [form, setForm] = useState({ name: '', phones: '', emails: '', notes: '' });
  const [other, setOther] = useState('');

  async function load() {
    if (!chat.clientId) return;
    try {
      const c = await api<Client>('GET', `/clients/${chat.clientId}`);
      setClient(c);
      const item = c.applicationItem;
      const k =
        item?.type === 'contact' ? await api<Contact>('GET', `/contacts/${item.id}`).catch(() => null) : null;
      setContact(k);
      if (k)
        setForm({
          name: k.name,
          phones: k.phones.join(', '),
          emails: k.emails.join(', '),
          notes: k.notes ?? '',
        });
      const prev = await api<{ items: Chat[] }>('POST', '/desk/chats/search', {
        where: {
          and: [
            { field: 'clientIds', op: 'eq', value: chat.clientId },
            { field: 'id', op: 'neq', value: chat.id },
          ],
        },
        sort: [{ field: 'startedAt', dir: 'desc' }],
        size: 20,
      });
      setPrevious(prev.items);
    } catch (err) {
      store.fail(err);
    }
  }
  useEffect(() => {
    setClient(null);
    setContact(null);
    setPrevious([]);
    void load();
  }, [chat.id]);

  async function run(fn: () => Promise<unknown>) {
    try {
      await fn();
      await load();
    } catch (err) {
      store.fail(err);
    }
  }
  const account = client ? (client.username ?? client.phone ?? client.email ?? client.externalId) : '';
  return (
    <aside class="client" aria-label={t('client')}>
      <h2>{t('client')}</h2>
      <dl>
        <dt>{t('name')}</dt>
        <dd data-testid="client-name">{chat.name}</dd>
        <dt>{t('channel')}</dt>
        <dd>{chat.channel}</dd>
        <dt>{t('account')}</dt>
        <dd>{account}</dd>
      </dl>
      {contact && (
        <form
          class="contact"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() =>
              api('PATCH', `/contacts/${contact.id}`, {
                name: form.name,
                phones: list(form.phones),
                emails: list(form.emails),
                notes: form.notes || null,
              }),
            );
          }}
        >
          <h3>{t('contact')}</h3>
          {(['name', 'phones', 'emails', 'notes'] as const).map((k) => (
            <label>
              {t(k)}
              <input value={form[k]} onInput={(e) => setForm({ ...form, [k]: e.currentTarget.value })} />
            </label>
          ))}
          <button type="submit">{t('save')}</button>
        </form>
      )}
      {client && (
        <div class="link-merge">
          <label>
            {t('linkContact')}
            <input value={other} onInput={(e) => setOther(e.currentTarget.value.trim())} />
          </label>
          <button
            type="button"
            disabled={!other}
            onClick={() =>
              void run(() =>
                api('PATCH', `/clients/${client.id}`, { applicationItem: { type: 'contact', id: other } }),
              )
            }
          >
            {t('link')}
          </button>
          {contact && (
            <button
              type="button"
              disabled={!other}
              title={t('mergeContact')}
              onClick={() =>
                void run(() => api('POST', `/contacts/${contact.id}/merge`, { sourceId: other }))
              }
            >
              {t('merge')}
            </button>
          )}
        </div>
      )}
      <h3>{t('previousSessions')}</h3>
      {previous.length === 0 ? (
        <p class="muted">{t('empty')}</p>
      ) : (
        <ul class="previous">
          {previous.map((p) => (
            <li>
              <button
                type="button"
                class="link"
                onClick={() => void store.select(p.id).then(() => store.place(p))}
              >
                {new Date(p.startedAt).toLocaleDateString()} · {p.status} · {since(p.startedAt)}
              </button>
            </li>
          ))}
        </ul>
      )}
    </aside>
  );
}
