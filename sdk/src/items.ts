/**
 * Items a search or a fetch returns. Each has `id`, `data` (the fields under the lines API's names:
 * `data.__name`, `data._state`), `raw` (the REST view) and `fetch()` (read it again); each is also a
 * ref, accepted wherever the API takes one (`f._channel.eq(channel)`, `assignToOperator(user)`).
 */
import type { LineChannelState, LineChannelType } from './enums.ts';
import { enc, type Transport } from './transport.ts';
import type {
  BotView,
  ChannelView,
  ClientView,
  ContactView,
  GroupView,
  LineMetrics,
  LineView,
  MessageView,
  UserView,
} from './views.ts';

/** What items need of the system: the transport, and the collections to read related items. */
export interface Core {
  transport: Transport;
  clientsOfContacts(contactIds: string[]): Promise<ClientView[]>;
}

/** A reference to an application item (a CRM record): a contact, or `{ type, id }` of another application. */
export interface ApplicationItemRef {
  readonly type: string;
  readonly id: string;
}

/** An item known by id only (a Context value, a linked record): `fetch()` reads it. */
export class ItemRef<T> implements ApplicationItemRef {
  constructor(
    readonly type: string,
    readonly id: string,
    readonly fetch: () => Promise<T>,
  ) {}
  toJSON(): ApplicationItemRef {
    return { type: this.type, id: this.id };
  }
}

const system = (v: { id: string; createdAt: string; updatedAt: string; deletedAt?: string | null }) => ({
  __id: v.id,
  __createdAt: v.createdAt,
  __updatedAt: v.updatedAt,
  __deletedAt: v.deletedAt ?? null,
});

export abstract class Item<V extends { id: string }, D> implements ApplicationItemRef {
  abstract readonly type: string;
  /** The fields under the lines API's names; a writable item sends what changed here on `save()`. */
  data: D;
  constructor(
    protected readonly core: Core,
    public raw: V,
  ) {
    this.data = this.toData(raw);
  }
  get id(): string {
    return this.raw.id;
  }
  protected abstract toData(raw: V): D;
  protected abstract get path(): string;
  protected get url(): string {
    return `${this.path}/${enc(this.id)}`;
  }
  /** Takes a fresh view from the server (after an action) as this item's state. */
  protected async refresh(view: Promise<V>): Promise<this> {
    this.raw = await view;
    this.data = this.toData(this.raw);
    return this;
  }
  /** Reads the item again. */
  fetch(): Promise<this> {
    return this.refresh(this.core.transport.get<V>(this.url));
  }
  toJSON(): V {
    return this.raw;
  }
}

export class LineItem extends Item<LineView, ReturnType<typeof lineData>> {
  readonly type = 'line';
  protected get path() {
    return '/lines';
  }
  protected toData(v: LineView) {
    return lineData(v);
  }
  /** The line's metrics over [from, to) (default: the last 24 hours); spam sessions are left out. */
  getMetrics(range: { from?: Date | string; to?: Date | string } = {}): Promise<LineMetrics> {
    const q = new URLSearchParams();
    for (const key of ['from', 'to'] as const) {
      const v = range[key];
      if (v !== undefined) q.set(key, v instanceof Date ? v.toISOString() : v);
    }
    const qs = q.size > 0 ? `?${q}` : '';
    return this.core.transport.get<LineMetrics>(`${this.url}/metrics${qs}`);
  }
}
const lineData = (v: LineView) => ({
  ...system(v),
  __name: v.name,
  _settings: v.settings,
  _queue: v.queue,
  _operators: v.operatorIds,
  _groups: v.groupIds,
  _bot: v.botId,
});

export class ChannelItem extends Item<ChannelView, ReturnType<typeof channelData>> {
  readonly type = 'channel';
  protected get path() {
    return '/channels';
  }
  protected toData(v: ChannelView) {
    return channelData(v);
  }
  /** Disconnects the channel (its open sessions close); the reason is kept as `_stateReason`. */
  disconnect(reason?: string): Promise<this> {
    const body = reason === undefined ? undefined : { reason };
    return this.refresh(this.core.transport.post<ChannelView>(`${this.url}/disconnect`, body));
  }
  /** Reconnects it: telegramBot, inbox, viberbot, livechat and instagram channels only. */
  reconnect(): Promise<this> {
    return this.refresh(this.core.transport.post<ChannelView>(`${this.url}/reconnect`));
  }
}
const channelData = (v: ChannelView) => ({
  ...system(v),
  __name: v.name,
  _line: v.lineId,
  _type: v.type as LineChannelType,
  _state: v.state as LineChannelState,
  _stateReason: v.stateReason,
  _source: v.source,
  _settings: v.settings,
});

/** Fields of a client that `save()` writes, by their lines API name and REST name. */
const CLIENT_WRITABLE = {
  _username: 'username',
  _firstName: 'firstName',
  _lastName: 'lastName',
  _phone: 'phone',
  _email: 'email',
  _avatarUrl: 'avatarUrl',
  _banned: 'banned',
  _applicationItem: 'applicationItem',
} as const;

function applicationItemOf(core: Core, v: ClientView['applicationItem']): ApplicationItemRef | null {
  if (!v) return null;
  if (v.type === 'contact') {
    return new ItemRef<ContactItem>(
      'contact',
      v.id,
      async () =>
        (await wrapContacts(core, [await core.transport.get<ContactView>(`/contacts/${enc(v.id)}`)]))[0]!,
    );
  }
  return { type: v.type, id: v.id };
}

export class ClientItem extends Item<ClientView, ReturnType<typeof clientData>> {
  readonly type = 'client';
  protected get path() {
    return '/clients';
  }
  protected toData(v: ClientView) {
    return clientData(this.core, v);
  }
  /**
   * Writes the fields changed in `data` (`data._applicationItem = contact` links the client to a CRM
   * record, of the application chosen in its line's settings). Nothing changed: no request.
   */
  async save(): Promise<this> {
    const was = clientData(this.core, this.raw);
    const patch: Record<string, unknown> = {};
    for (const [name, rest] of Object.entries(CLIENT_WRITABLE)) {
      const now = wireValue(this.data[name as keyof typeof CLIENT_WRITABLE]);
      if (JSON.stringify(now) !== JSON.stringify(wireValue(was[name as keyof typeof CLIENT_WRITABLE])))
        patch[rest] = now;
    }
    if (Object.keys(patch).length === 0) return this;
    return this.refresh(this.core.transport.patch<ClientView>(this.url, patch));
  }
}
function wireValue(v: unknown): unknown {
  if (v && typeof v === 'object' && 'type' in v && 'id' in v) {
    const ref = v as ApplicationItemRef;
    return { type: ref.type, id: ref.id };
  }
  return v ?? null;
}
const clientData = (core: Core, v: ClientView) => ({
  ...system(v),
  __name: [v.firstName, v.lastName].filter(Boolean).join(' ') || v.username || v.externalId,
  _channel: v.channelId,
  _externalId: v.externalId,
  _username: v.username,
  _firstName: v.firstName,
  _lastName: v.lastName,
  _phone: v.phone,
  _email: v.email,
  _avatarUrl: v.avatarUrl,
  _applicationItem: applicationItemOf(core, v.applicationItem),
  _banned: v.banned,
  _online: v.online,
  _lastSeenAt: v.lastSeenAt,
});

/** A messenger account of a contact: what `sessions.create(channel, account)` takes as `login`. */
export interface ContactAccount {
  /** `messenger` (a linked client's account), `phone` or `email`. */
  type: 'messenger' | 'phone' | 'email';
  login: string;
  /** For a messenger account: its channel and client. */
  channel?: string;
  client?: string;
}

export class ContactItem extends Item<ContactView, ReturnType<typeof contactData>> {
  readonly type = 'contact';
  accounts: ContactAccount[] = [];
  protected get path() {
    return '/contacts';
  }
  protected toData(v: ContactView) {
    return contactData(v, this?.accounts ?? []);
  }
  override async fetch(): Promise<this> {
    await setAccounts(this.core, [this], [await this.core.transport.get<ContactView>(this.url)]);
    return this;
  }
}
const contactData = (v: ContactView, accounts: ContactAccount[]) => ({
  ...system(v),
  __name: v.name,
  _phone: v.phones,
  _email: v.emails,
  _notes: v.notes,
  _mergedInto: v.mergedIntoId,
  /** Linked clients' messenger accounts first, then the phones and e-mails. */
  _account: accounts,
});

async function setAccounts(core: Core, items: ContactItem[], views: ContactView[]): Promise<void> {
  const clients = await core.clientsOfContacts(views.map((v) => v.id));
  items.forEach((item, i) => {
    const v = views[i]!;
    const linked = clients.filter((c) => c.applicationItem?.id === v.id);
    item.accounts = [
      ...linked.map((c) => ({
        type: 'messenger' as const,
        login: c.username ?? c.phone ?? c.email ?? c.externalId,
        channel: c.channelId,
        client: c.id,
      })),
      ...v.phones.map((login) => ({ type: 'phone' as const, login })),
      ...v.emails.map((login) => ({ type: 'email' as const, login })),
    ];
    item.raw = v;
    item.data = contactData(v, item.accounts);
  });
}

/** Contacts with their accounts (one request for the clients of all of them). */
export async function wrapContacts(core: Core, views: ContactView[]): Promise<ContactItem[]> {
  const items = views.map((v) => new ContactItem(core, v));
  await setAccounts(core, items, views);
  return items;
}

export class MessageItem extends Item<MessageView, ReturnType<typeof messageData>> {
  readonly type = 'message';
  protected get path() {
    return '/messages';
  }
  protected toData(v: MessageView) {
    return messageData(v);
  }
  override fetch(): Promise<this> {
    return this.refresh(
      this.core.transport
        .post<{ items: MessageView[] }>('/messages/search', {
          where: { field: 'id', op: 'eq', value: this.id },
        })
        .then((p) => p.items[0] ?? this.raw),
    );
  }
}
const messageData = (v: MessageView) => ({
  ...system(v),
  _session: v.sessionId,
  _channel: v.channelId,
  _direction: v.direction,
  _type: v.type,
  _text: v.text,
  _attachments: v.attachments,
  _sender: v.sender,
  _status: v.status,
  _error: v.error,
  _editedAt: v.editedAt,
  _readAt: v.readAt,
});

export class UserItem extends Item<UserView, ReturnType<typeof userData>> {
  readonly type = 'user';
  protected get path() {
    return '/users';
  }
  protected toData(v: UserView) {
    return userData(v);
  }
}
const userData = (v: UserView) => ({
  __id: v.id,
  __name: v.name,
  _role: v.role,
  _login: 'login' in v ? v.login : undefined,
  _blocked: 'blocked' in v ? v.blocked : undefined,
});

export class GroupItem extends Item<GroupView, ReturnType<typeof groupData>> {
  readonly type = 'group';
  protected get path() {
    return '/groups';
  }
  protected toData(v: GroupView) {
    return groupData(v);
  }
}
const groupData = (v: GroupView) => ({
  __id: v.id,
  __name: v.name,
  __createdAt: v.createdAt,
  __updatedAt: v.updatedAt,
  _members: v.memberIds,
});

export class BotItem extends Item<BotView, ReturnType<typeof botData>> {
  readonly type = 'bot';
  protected get path() {
    return '/bots';
  }
  protected toData(v: BotView) {
    return botData(v);
  }
}
const botData = (v: BotView) => ({
  __id: v.id,
  __name: v.name,
  __createdAt: v.createdAt,
  __updatedAt: v.updatedAt,
  _settings: v.settings,
});
