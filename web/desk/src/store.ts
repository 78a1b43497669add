/**
 * The desk's state, one store: the signed-in user, status, the four lists, the open conversation,
 * typing, drafts and the workspace's bad states. Components re-render on `subscribe`.
 * Everything here is data; a customer's text is only ever rendered as text by the components.
 */
import { ApiError, api, auth, rest } from './api';
import { byClosedDesc, byRouterOrder } from './sort';
import type { Chat, Message, OperatorStatus, User } from './types';

export type Ended = 'signedInElsewhere' | 'blocked' | 'tokenExpired' | 'loggedOut' | null;
export type ListName = 'mine' | 'offers' | 'queue' | 'closed';

export interface Conversation {
  id: string;
  messages: Message[];
  nextCursor: string | null;
  actions: string[];
  loading: boolean;
}

class Store {
  user: User | null = null;
  status: OperatorStatus = 'offline';
  maxSessions: number | null = null;
  chats = new Map<string, Chat>();
  /** Which list each chat belongs to. */
  where = new Map<string, ListName>();
  selected: string | null = null;
  conversation: Conversation | null = null;
  typing = new Map<string, number>();
  connection: 'connecting' | 'connected' | 'unreachable' = 'connecting';
  ended: Ended = null;
  notice: string | null = null;
  error: string | null = null;
  view: 'workspace' | 'supervision' | 'canned' = 'workspace';
  version = 0;
  #listeners = new Set<() => void>();
  #scheduled = false;

  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Re-render once per microtask, however many changes came. */
  changed(): void {
    this.version++;
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      for (const fn of this.#listeners) fn();
    });
  }

  list(name: ListName): Chat[] {
    const out: Chat[] = [];
    for (const [id, l] of this.where) if (l === name) out.push(this.chats.get(id)!);
    return out.sort(name === 'closed' ? byClosedDesc : byRouterOrder);
  }

  unreadTotal(): number {
    let n = 0;
    for (const [id, l] of this.where)
      if (l === 'mine') n += this.chats.get(id)?.unreadClientMessageCount ?? 0;
    return n;
  }

  /** Puts a chat in the list its state says (or drops it from the lists). */
  place(chat: Chat): void {
    this.chats.set(chat.id, chat);
    const me = this.user?.id;
    let list: ListName | null = null;
    if (chat.status === 'Closed' || chat.status === 'MarkedAsSpam') list = 'closed';
    else if (chat.status === 'AssignedToOperator' && chat.operatorId === me) list = 'mine';
    else if (chat.status === 'Waiting' && chat.offered) list = 'offers';
    else if (chat.status === 'Waiting') list = 'queue';
    if (list) this.where.set(chat.id, list);
    else this.where.delete(chat.id);
    this.changed();
  }

  remove(id: string): void {
    this.where.delete(id);
    this.changed();
  }

  /** Reloads every list from REST (at start, and after a reconnect that could not recover). */
  async reload(): Promise<void> {
    const [mine, queue, closed] = await Promise.all([
      rest.chats('mine'),
      rest.chats('queue'),
      rest.chats('closed'),
    ]);
    this.chats.clear();
    this.where.clear();
    for (const c of closed.items) this.place(c);
    for (const c of queue.items) this.place(c);
    for (const c of mine.items) this.place(c);
    if (this.selected) await this.refreshConversation();
    this.changed();
  }

  /** Fetches one chat's desk view and places it. */
  async refreshChat(id: string): Promise<void> {
    try {
      this.place(await rest.chat(id));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) this.remove(id);
    }
  }

  async select(id: string | null): Promise<void> {
    this.selected = id;
    this.conversation = id ? { id, messages: [], nextCursor: null, actions: [], loading: true } : null;
    this.changed();
    if (id) await this.refreshConversation();
  }

  async refreshConversation(): Promise<void> {
    const id = this.selected;
    if (!id) return;
    try {
      const [page, actions] = await Promise.all([rest.messages(id), rest.actions(id)]);
      if (this.selected !== id) return;
      this.conversation = {
        id,
        messages: page.items.slice().reverse(),
        nextCursor: page.nextCursor,
        actions: actions.actions,
        loading: false,
      };
      const chat = this.chats.get(id);
      if (chat?.unreadClientMessageCount && this.where.get(id) === 'mine') {
        this.chats.set(id, { ...chat, unreadClientMessageCount: 0 });
        void api('POST', `/sessions/${id}/read`).catch(() => {});
      }
      this.changed();
    } catch (err) {
      this.fail(err);
    }
  }

  async olderMessages(): Promise<void> {
    const c = this.conversation;
    if (!c?.nextCursor) return;
    const page = await rest.messages(c.id, c.nextCursor);
    if (this.conversation?.id !== c.id) return;
    this.conversation = {
      ...c,
      messages: [...page.items.slice().reverse(), ...c.messages],
      nextCursor: page.nextCursor,
    };
    this.changed();
  }

  /** A message stored or edited (ours from a REST answer, or a live event). */
  upsertMessage(m: Message): void {
    const c = this.conversation;
    if (c && c.id === m.sessionId) {
      const i = c.messages.findIndex((x) => x.id === m.id);
      const messages = c.messages.slice();
      if (i >= 0) messages[i] = m;
      else messages.push(m);
      this.conversation = { ...c, messages };
    }
    const chat = this.chats.get(m.sessionId);
    if (chat && m.type !== 'note') {
      const isNew = chat.lastMessage?.id !== m.id && !(c?.messages.some((x) => x.id === m.id) ?? false);
      const incoming = m.direction === 'incoming';
      const unread =
        incoming && this.selected !== m.sessionId && isNew
          ? (chat.unreadClientMessageCount ?? 0) + 1
          : chat.unreadClientMessageCount;
      this.chats.set(m.sessionId, {
        ...chat,
        lastMessage: m,
        lastMessageCreatedAt: m.createdAt,
        unreadClientMessageCount: unread,
        awaitingAnswerSince: incoming
          ? (chat.awaitingAnswerSince ?? m.createdAt)
          : m.sender.type === 'operator'
            ? null
            : chat.awaitingAnswerSince,
      });
      if (incoming && this.selected === m.sessionId && this.where.get(m.sessionId) === 'mine') {
        void api('POST', `/sessions/${m.sessionId}/read`).catch(() => {});
      }
    }
    this.changed();
  }

  markRead(sessionId: string, readAt: string): void {
    const c = this.conversation;
    if (!c || c.id !== sessionId) return;
    this.conversation = {
      ...c,
      messages: c.messages.map((m) =>
        m.direction === 'outgoing' && m.type !== 'note' && m.createdAt <= readAt && m.status !== 'failed'
          ? { ...m, status: 'read', readAt }
          : m,
      ),
    };
    this.changed();
  }

  clientTyping(sessionId: string): void {
    this.typing.set(sessionId, Date.now() + 6000);
    this.changed();
    setTimeout(() => this.changed(), 6100);
  }

  isTyping(sessionId: string): boolean {
    return (this.typing.get(sessionId) ?? 0) > Date.now();
  }

  /** The workspace is over (another login, blocked, token gone): nothing works until a new sign-in. */
  end(reason: Ended): void {
    if (this.ended) return;
    this.ended = reason;
    auth.set(null);
    this.changed();
  }

  fail(err: unknown): void {
    if (err instanceof ApiError && err.status === 0) this.connection = 'unreachable';
    this.error = err instanceof Error ? err.message : String(err);
    this.changed();
  }

  /** Sets fields of the store and re-renders. */
  set(fields: Partial<Pick<Store, 'view' | 'notice' | 'error'>>): void {
    Object.assign(this, fields);
    this.changed();
  }

  reset(): void {
    this.user = null;
    this.chats.clear();
    this.where.clear();
    this.selected = null;
    this.conversation = null;
    this.error = null;
    this.notice = null;
    this.changed();
  }
}

export const store = new Store();

export function draftKey(sessionId: string): string {
  return `omniline.desk.draft.${sessionId}`;
}
