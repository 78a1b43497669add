/**
 * `createSystem({ url, token })` → `System`: `System.lines.{lines, channels, clients, sessions,
 * contacts, messages, users, groups, bots}`, each with `search()` and `fetch(id)`, and
 * `System.live.connect()` for the operator events.
 */
import {
  botFields,
  channelFields,
  clientFields,
  contactFields,
  groupFields,
  lineFields,
  messageFields,
  sessionFields,
  userFields,
} from './fields.ts';
import {
  BotItem,
  ChannelItem,
  ClientItem,
  type ContactItem,
  type Core,
  GroupItem,
  ItemRef,
  LineItem,
  MessageItem,
  UserItem,
  wrapContacts,
} from './items.ts';
import { Live } from './live.ts';
import { Search, type Source } from './search.ts';
import { SessionItem } from './session-item.ts';
import { enc, type SystemOptions, Transport } from './transport.ts';
import type {
  BotView,
  ChannelView,
  ClientView,
  ContactView,
  GroupView,
  LineView,
  MessageView,
  SessionView,
  UserView,
} from './views.ts';
import { idOf, type RefOrId } from './where.ts';

export class Collection<F, V extends { id: string }, T> {
  constructor(protected readonly source: Source<F, V, T> & { type: string }) {}
  /** A new search: `.where((f, g) => …)`, then `.first()`, `.all()`, `.count()` or iteration. */
  search(): Search<F, V, T> {
    return new Search(this.source);
  }
  /** The item with this id (404 `<TYPE>_NOT_FOUND` otherwise). */
  async fetch(id: RefOrId): Promise<T> {
    const view = await this.source.transport.get<V>(`${this.source.path}/${enc(idOf(id))}`);
    return (await this.source.wrap([view]))[0]!;
  }
  /** A ref to the item by id, without reading it (its `fetch()` does). */
  ref(id: string): ItemRef<T> {
    return new ItemRef(this.source.type, id, () => this.fetch(id));
  }
}

export class Sessions extends Collection<ReturnType<typeof sessionFields>, SessionView, SessionItem> {
  /**
   * Starts a conversation in the channel with a messenger account (a login, phone number or e-mail,
   * by channel type); an open session with that account is returned as it is.
   */
  async create(channel: RefOrId, account: string): Promise<SessionItem> {
    const view = await this.source.transport.post<SessionView>('/sessions', {
      channelId: idOf(channel, 'channel'),
      account,
    });
    return (await this.source.wrap([view]))[0]!;
  }
}

export interface LinesCollections {
  lines: Collection<ReturnType<typeof lineFields>, LineView, LineItem>;
  channels: Collection<ReturnType<typeof channelFields>, ChannelView, ChannelItem>;
  clients: Collection<ReturnType<typeof clientFields>, ClientView, ClientItem>;
  sessions: Sessions;
  contacts: Collection<ReturnType<typeof contactFields>, ContactView, ContactItem>;
  messages: Collection<ReturnType<typeof messageFields>, MessageView, MessageItem>;
  users: Collection<ReturnType<typeof userFields>, UserView, UserItem>;
  groups: Collection<ReturnType<typeof groupFields>, GroupView, GroupItem>;
  bots: Collection<ReturnType<typeof botFields>, BotView, BotItem>;
}

export interface System {
  lines: LinesCollections;
  live: Live;
  /** The transport every call goes through (`request(method, path, body)` for anything not wrapped). */
  transport: Transport;
}

export function createSystem(options: SystemOptions): System {
  const transport = new Transport(options);
  const core: Core = {
    transport,
    clientsOfContacts: async (ids) => {
      if (ids.length === 0) return [];
      const page = await transport.post<{ items: ClientView[] }>('/clients/search', {
        where: {
          and: [
            { field: 'applicationType', op: 'eq', value: 'contact' },
            { field: 'applicationId', op: 'in', value: ids },
          ],
        },
        size: 1000,
      });
      return page.items;
    },
  };
  const of =
    <V extends { id: string }, T>(Item: new (core: Core, view: V) => T) =>
    (views: V[]) =>
      views.map((v) => new Item(core, v));
  const source = <F, V extends { id: string }, T>(
    type: string,
    path: string,
    fields: () => F,
    wrap: (views: V[]) => T[] | Promise<T[]>,
  ) => {
    // The field handles hold nothing but their names: one frozen set per collection, built on first
    // use, instead of some twenty objects for every search (a quarter of the SDK's own time per call).
    let handles: F | undefined;
    return { type, transport, path, fields: () => (handles ??= Object.freeze(fields())), wrap };
  };
  const lines: LinesCollections = {
    lines: new Collection(source('line', '/lines', lineFields, of(LineItem))),
    channels: new Collection(source('channel', '/channels', channelFields, of(ChannelItem))),
    clients: new Collection(source('client', '/clients', clientFields, of(ClientItem))),
    sessions: new Sessions(source('session', '/sessions', sessionFields, of(SessionItem))),
    contacts: new Collection(
      source('contact', '/contacts', contactFields, (views: ContactView[]) => wrapContacts(core, views)),
    ),
    messages: new Collection(source('message', '/messages', messageFields, of(MessageItem))),
    users: new Collection(source('user', '/users', userFields, of(UserItem))),
    groups: new Collection(source('group', '/groups', groupFields, of(GroupItem))),
    bots: new Collection(source('bot', '/bots', botFields, of(BotItem))),
  };
  return { lines, transport, live: new Live(options) };
}
