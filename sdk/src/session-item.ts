/** A session and what the lines API does with it: assign, transfer, close, spam, read and write messages. */
import type { LineSessionPriority, LineSessionState } from './enums.ts';
import { Item, MessageItem } from './items.ts';
import type { MessageView, SessionView } from './views.ts';
import { idOf, type Ref, type RefOrId } from './where.ts';

/** A file to send: a Blob/File, or its bytes with a name; a string is the id of an uploaded file. */
export type OutgoingFile = Blob | { name: string; data: Blob | Uint8Array | string; type?: string } | string;

export interface MessagePage {
  items: MessageItem[];
  total: number;
  /** Pass to `getMessages({ cursor })` for older messages; null on the last page. */
  nextCursor: string | null;
}

/** Where `transfer` moves a session: a user or group item/ref, or `{ operator }` / `{ group }`. */
export type TransferTarget = (Ref & { readonly type: string }) | { operator: RefOrId } | { group: RefOrId };

export class SessionItem extends Item<SessionView, ReturnType<typeof sessionData>> {
  readonly type = 'session';
  protected get path() {
    return '/sessions';
  }
  protected toData(v: SessionView) {
    return sessionData(v);
  }
  #act(action: string, body?: unknown): Promise<this> {
    return this.refresh(this.core.transport.post<SessionView>(`${this.url}/${action}`, body));
  }
  assignToOperator(user: RefOrId): Promise<this> {
    return this.#act('assign', { operatorId: idOf(user, 'user') });
  }
  assignToBot(bot: RefOrId): Promise<this> {
    return this.#act('assign', { botId: idOf(bot, 'bot') });
  }
  assignToGroup(group: RefOrId): Promise<this> {
    return this.#act('assign', { groupId: idOf(group, 'group') });
  }
  /** Moves the session to another operator or a group (the previous operator is kept). */
  transfer(target: TransferTarget): Promise<this> {
    if ('operator' in target) return this.#act('transfer', { operatorId: idOf(target.operator, 'operator') });
    if ('group' in target) return this.#act('transfer', { groupId: idOf(target.group, 'group') });
    if (target.type === 'group') return this.#act('transfer', { groupId: target.id });
    return this.#act('transfer', { operatorId: target.id });
  }
  close(): Promise<this> {
    return this.#act('close');
  }
  /** Like close, and its metrics leave the statistics; not for internal and support channels. */
  markAsSpam(): Promise<this> {
    return this.#act('spam');
  }
  /** Back from spam (Closed): the last session of the client's chain, or any inbox session. */
  unmarkAsSpam(): Promise<this> {
    return this.refresh(this.core.transport.delete<SessionView>(`${this.url}/spam`));
  }
  setPriority(priority: LineSessionPriority): Promise<this> {
    return this.refresh(this.core.transport.patch<SessionView>(this.url, { priority }));
  }
  /** The newest message, or null. */
  async getLastMessage(): Promise<MessageItem | null> {
    const view = await this.core.transport.get<MessageView | null>(`${this.url}/last-message`);
    return view ? new MessageItem(this.core, view) : null;
  }
  /** Messages, newest first, a page at a time (`limit` up to the server's maximum). */
  async getMessages(page: { limit?: number; cursor?: string | null } = {}): Promise<MessagePage> {
    const q = new URLSearchParams();
    if (page.limit !== undefined) q.set('limit', String(page.limit));
    if (page.cursor) q.set('cursor', page.cursor);
    const qs = q.size > 0 ? `?${q}` : '';
    const res = await this.core.transport.get<{
      items: MessageView[];
      total: number;
      nextCursor: string | null;
    }>(`${this.url}/messages${qs}`);
    return { ...res, items: res.items.map((v) => new MessageItem(this.core, v)) };
  }
  /** Every message, newest first, read a page at a time. */
  async *messages(limit?: number): AsyncGenerator<MessageItem> {
    let cursor: string | null = null;
    do {
      const page: MessagePage = await this.getMessages({ limit, cursor });
      yield* page.items;
      cursor = page.nextCursor;
    } while (cursor);
  }
  /** Sends a message as the caller (stored, then delivered by the channel); files upload with it. */
  async sendMessage(text: string | null, files: OutgoingFile[] = []): Promise<MessageItem> {
    const path = `${this.url}/messages`;
    let view: MessageView;
    if (files.every((f) => typeof f === 'string')) {
      view = await this.core.transport.post<MessageView>(path, {
        ...(text !== null && { text }),
        ...(files.length > 0 && { fileIds: files }),
      });
    } else {
      const form = new FormData();
      if (text !== null) form.append('text', text);
      for (const f of files) {
        if (typeof f === 'string') throw new TypeError('sendMessage: mix no file ids with files to upload');
        if (f instanceof Blob) form.append('file', f, (f as File).name ?? 'file');
        else {
          const blob =
            f.data instanceof Blob
              ? f.data
              : new Blob([typeof f.data === 'string' ? f.data : new Uint8Array(f.data)], {
                  type: f.type ?? 'application/octet-stream',
                });
          form.append('file', blob, f.name);
        }
      }
      view = await this.core.transport.request<MessageView>('POST', path, form);
    }
    return new MessageItem(this.core, view);
  }
}

export const sessionData = (v: SessionView) => ({
  __id: v.id,
  __createdAt: v.createdAt,
  __updatedAt: v.updatedAt,
  __deletedAt: v.deletedAt ?? null,
  _line: v.lineId,
  _channel: v.channelId,
  _clients: v.clientIds,
  _state: v.state as LineSessionState,
  _markedAsSpam: v.markedAsSpam,
  _priority: v.priority as LineSessionPriority,
  _operator: v.operatorId,
  _group: v.operatorGroupId,
  _bot: v.botId,
  _previousSession: v.previousSessionId,
  _startedAt: v.startedAt,
  _operatorAssignedAt: v.operatorAssignedAt,
  _firstAnswerAt: v.firstAnswerAt,
  _lastMessageAt: v.lastMessageAt,
  _closedAt: v.closedAt,
  _closedBy: v.closedBy,
  _unreadClientMessageCount: v.unreadClientMessageCount,
  _unreadOperatorMessageCount: v.unreadOperatorMessageCount,
});
