/**
 * The visitor's conversation, one object the components render: settings, the messages (history
 * pages and live ones, merged by id), the outbox, the operator, typing, read receipts, unread count,
 * the rating — and the transport.
 *
 * Transport: HTTP to send (`POST /livechat/:channelId/messages`), the official `centrifuge` SDK to
 * receive, with the visitor token. The visitor's stream is a server-side subscription with history:
 * after a reconnect the SDK recovers what was missed; when the server says it could not
 * (`recovered: false`), the newest history page is read again. Every message gets a uuid when it is
 * written and keeps it in the outbox (localStorage) until the server acknowledged it, so a resend
 * after a drop or a reload is stored once.
 */
import { Centrifuge } from 'centrifuge';
import type {
  VisitorAttachment,
  VisitorEvent,
  VisitorMessage,
} from '../../../src/providers/livechat/visitor-events';
import { ApiError, type Identity, LivechatApi, type PrechatField, type WidgetConfig } from './api';
import { fill, type Words, words } from './i18n';
import { Notifier } from './notify';
import { uuid, WidgetStorage } from './storage';

export type View = 'loading' | 'unavailable' | 'prechat' | 'offline' | 'chat';

export interface ChatMessage extends VisitorMessage {
  /** The visitor's uuid for their own messages, the server's id otherwise. */
  key: string;
  status?: 'sending' | 'sent' | 'failed';
  /** A line of the widget's own (joined, ended), not a message of the conversation. */
  info?: boolean;
}

interface Outgoing {
  messageId: string;
  text: string;
  fileIds: string[];
  attachments: VisitorAttachment[];
  createdAt: string;
}

export interface Boot {
  base: string;
  channelId: string;
  identity: Identity | null;
  language: string | null;
}

export interface Operator {
  id: string | null;
  name: string | null;
  avatarUrl: string | null;
}

const TYPING_SHOWN_MS = 6000;
const TYPING_SENT_EVERY_MS = 3000;
const RETRY_MS = 3000;

export class Chat {
  config: WidgetConfig | null = null;
  t: Words;
  problem: 'unavailable' | 'refused' | 'identity' | null = null;
  open: boolean;
  messages = new Map<string, ChatMessage>();
  nextCursor: string | null = null;
  loadingEarlier = false;
  openSessionId: string | null = null;
  operator: Operator | null = null;
  operatorTypingUntil = 0;
  /** When the operator last read the conversation (server time): the visitor's messages before it are read. */
  readAt: string | null = null;
  unread = 0;
  connection: 'idle' | 'connecting' | 'connected' | 'reconnecting' = 'idle';
  rating: { sessionId: string; state: 'ask' | 'sending' | 'done' } | null;
  profile: { name?: string; email?: string };
  prechatDone: boolean;
  offlineSent: boolean;
  notice: string | null = null;
  version = 0;

  readonly api: LivechatApi;
  readonly storage: WidgetStorage;
  readonly #notifier: Notifier;
  #centrifuge: Centrifuge | null = null;
  #started: Promise<void> | null = null;
  #outbox: Outgoing[];
  #flushing = false;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #lastTypingSent = 0;
  #lastReadSent: string | null = null;
  #listeners = new Set<() => void>();
  #scheduled = false;

  constructor(readonly boot: Boot) {
    this.t = words(boot.language);
    this.storage = new WidgetStorage(boot.channelId);
    this.open = this.storage.get<boolean>('open') ?? false;
    this.profile = this.storage.get('profile') ?? {};
    this.prechatDone = this.storage.get<boolean>('prechatDone') ?? false;
    this.offlineSent = this.storage.get<boolean>('offlineSent') ?? false;
    this.rating = this.storage.get('rating');
    this.#outbox = this.storage.get<Outgoing[]>('outbox') ?? [];
    for (const o of this.#outbox) this.#put(pendingMessage(o));
    this.#notifier = new Notifier();
    this.api = new LivechatApi(boot.base, boot.channelId, {
      storedId: () => this.storage.get<string>('visitorId'),
      store: (id) => this.storage.set('visitorId', id),
      identity: () => boot.identity,
      profile: () => this.profile,
    });
  }

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

  /** Loads the settings; a returning (or identified) visitor also connects at once, others when they open the chat. */
  async load(): Promise<void> {
    try {
      this.config = await this.api.config();
      this.t = words(this.boot.language ?? this.config.language);
    } catch (err) {
      // Not drawn at all (a foreign page, a deleted channel): the site's developer finds why here.
      this.problem = err instanceof ApiError && err.status === 403 ? 'refused' : 'unavailable';
      console.warn(
        `omniline widget: could not load its settings (is this page's origin allowed?): ${err instanceof Error ? err.message : String(err)}`,
      );
      this.changed();
      return;
    }
    this.changed();
    addEventListener('online', () => this.flush());
    document.addEventListener('visibilitychange', () => this.#seen());
    if (this.open || this.boot.identity || this.api.visitorId || this.#outbox.length > 0) await this.start();
  }

  /** The token, the newest history page and the live connection — once. */
  start(): Promise<void> {
    this.#started ??= this.#start().catch((err) => {
      this.#started = null;
      this.#fail(err);
    });
    return this.#started;
  }

  async #start(): Promise<void> {
    const token = await this.api.token();
    await this.#loadLatest();
    this.#connect(token);
    void this.flush();
  }

  #fail(err: unknown): void {
    if (err instanceof ApiError && err.code === 'IDENTITY_REFUSED') this.problem = 'identity';
    else if (err instanceof ApiError && err.status === 403) this.problem = 'refused';
    else if (err instanceof ApiError) this.notice = err.message;
    this.changed();
  }

  view(): View {
    if (this.problem) return 'unavailable';
    const config = this.config;
    if (!config) return 'loading';
    const talking = this.messages.size > 0 || this.openSessionId !== null || this.rating !== null;
    if (talking) return 'chat';
    if (!config.online) return 'offline';
    if (config.prechatFields.length > 0 && !this.prechatDone && !this.boot.identity) return 'prechat';
    return 'chat';
  }

  sorted(): ChatMessage[] {
    return [...this.messages.values()].sort(
      (a, b) => a.createdAt.localeCompare(b.createdAt) || Number(a.cursor ?? 0) - Number(b.cursor ?? 0) || 0,
    );
  }

  operatorTyping(): boolean {
    return this.operatorTypingUntil > Date.now();
  }

  setOpen(open: boolean): void {
    this.open = open;
    this.storage.set('open', open);
    if (open) {
      void this.start();
      this.#seen();
    }
    this.changed();
  }

  // ── what the visitor does ─────────────────────────────────────────────────────────────────────

  /** The pre-chat (or offline) form: the profile goes into a new token; the first message is sent. */
  async submitForm(values: Partial<Record<PrechatField, string>>, offline: boolean): Promise<void> {
    const name = values.name?.trim();
    const email = values.email?.trim();
    this.profile = { ...(name && { name }), ...(email && { email }) };
    this.storage.set('profile', this.profile);
    if (offline) {
      this.offlineSent = true;
      this.storage.set('offlineSent', true);
    } else {
      this.prechatDone = true;
      this.storage.set('prechatDone', true);
    }
    this.changed();
    await this.start();
    await this.api.token(true);
    const message = values.message?.trim();
    if (message) this.send(message);
  }

  send(text: string, files: { fileId: string; attachment: VisitorAttachment }[] = []): void {
    const o: Outgoing = {
      messageId: uuid(),
      text,
      fileIds: files.map((f) => f.fileId),
      attachments: files.map((f) => f.attachment),
      createdAt: new Date().toISOString(),
    };
    this.#outbox.push(o);
    this.#saveOutbox();
    this.#put(pendingMessage(o));
    this.changed();
    void this.start().then(() => this.flush());
  }

  /** Sends the outbox in order; a network failure keeps the rest for the next try (same uuids). */
  async flush(): Promise<void> {
    if (this.#flushing || !this.#started) return;
    this.#flushing = true;
    try {
      while (this.#outbox.length > 0) {
        const o = this.#outbox[0]!;
        try {
          await this.api.sendMessage(o.messageId, o.text, o.fileIds);
          this.#setStatus(o.messageId, 'sent');
        } catch (err) {
          const permanent = err instanceof ApiError && err.status < 500 && ![408, 429].includes(err.status);
          if (!permanent) {
            this.#retryLater();
            return;
          }
          this.#setStatus(o.messageId, 'failed');
          this.notice = err.message;
        }
        this.#outbox.shift();
        this.#saveOutbox();
      }
    } finally {
      this.#flushing = false;
    }
  }

  retry(key: string): void {
    const m = this.messages.get(key);
    if (m?.status !== 'failed') return;
    this.messages.delete(key);
    this.send(m.text ?? '', []);
  }

  typing(): void {
    const now = Date.now();
    if (now - this.#lastTypingSent < TYPING_SENT_EVERY_MS || !this.#centrifuge) return;
    this.#lastTypingSent = now;
    this.#centrifuge.rpc('typing', {}).catch(() => {});
  }

  async loadEarlier(): Promise<void> {
    if (!this.nextCursor || this.loadingEarlier) return;
    this.loadingEarlier = true;
    this.changed();
    try {
      const page = await this.api.history(this.nextCursor);
      for (const m of page.items) this.#merge(m);
      this.nextCursor = page.nextCursor;
    } catch (err) {
      this.#fail(err);
    } finally {
      this.loadingEarlier = false;
      this.changed();
    }
  }

  async rate(rating: number, comment: string): Promise<void> {
    if (!this.rating) return;
    const sessionId = this.rating.sessionId;
    this.rating = { sessionId, state: 'sending' };
    this.changed();
    try {
      await this.api.rate(sessionId, rating, comment);
    } catch (err) {
      // Rated already (another tab): done all the same; anything else may be tried again.
      if (!(err instanceof ApiError && err.code === 'ALREADY_RATED')) {
        this.rating = { sessionId, state: 'ask' };
        this.#fail(err);
        return;
      }
    }
    this.rating = { sessionId, state: 'done' };
    this.storage.remove('rating');
    this.changed();
  }

  dismissRating(): void {
    this.rating = null;
    this.storage.remove('rating');
    this.changed();
  }

  async endChat(): Promise<void> {
    await this.api.command({ event: 'close' }).catch((err) => this.#fail(err));
  }

  // ── what arrives ──────────────────────────────────────────────────────────────────────────────

  async #loadLatest(): Promise<void> {
    const page = await this.api.history(null);
    for (const m of page.items) this.#merge(m);
    this.nextCursor ??= page.nextCursor;
    this.openSessionId = page.openSessionId;
    const lastOperator = page.items.find((m) => m.author === 'operator' && m.name);
    if (lastOperator && !this.operator)
      this.operator = { id: null, name: lastOperator.name, avatarUrl: null };
    this.changed();
  }

  #connect(token: string): void {
    const ws = `${this.boot.base.replace(/^http/, 'ws')}/connection/websocket`;
    const c = new Centrifuge(ws, {
      token,
      // Asked for when the server says the token expired (error 109): a new one, same visitor.
      getToken: () => this.api.token(true),
      data: { channel: this.boot.channelId },
      minReconnectDelay: 300,
      maxReconnectDelay: 5000,
    });
    this.#centrifuge = c;
    this.connection = 'connecting';
    c.on('connecting', () => {
      if (this.connection === 'connected') this.connection = 'reconnecting';
      this.changed();
    });
    c.on('connected', () => {
      this.connection = 'connected';
      this.changed();
      void this.flush();
    });
    c.on('disconnected', (ctx) => {
      // 3500: the token or the page's origin is refused (terminal).
      if (ctx.code === 3500) this.problem = 'refused';
      this.connection = 'idle';
      this.changed();
    });
    c.on('subscribed', (ctx) => {
      if (ctx.wasRecovering && !ctx.recovered) void this.#loadLatest().catch((err) => this.#fail(err));
    });
    c.on('publication', (ctx) => this.#handle(ctx.data as VisitorEvent));
    c.connect();
  }

  #handle(e: VisitorEvent): void {
    switch (e.type) {
      case 'message': {
        const m = e.message;
        const fresh = !this.messages.has(m.clientMessageId ?? m.id);
        this.#merge(m);
        if (m.sessionId) this.openSessionId = m.sessionId;
        if (m.author !== 'visitor') {
          this.operatorTypingUntil = 0;
          if (m.author === 'operator' && m.name)
            this.operator = { id: this.operator?.id ?? null, name: m.name, avatarUrl: null };
          if (fresh) this.#arrived(m);
        }
        break;
      }
      case 'typing':
        this.operatorTypingUntil = Date.now() + TYPING_SHOWN_MS;
        setTimeout(() => this.changed(), TYPING_SHOWN_MS + 50);
        break;
      case 'read':
        if (!this.readAt || e.readAt > this.readAt) this.readAt = e.readAt;
        break;
      case 'assigned': {
        const { operator } = e;
        const avatarUrl = (operator as { avatarUrl?: unknown }).avatarUrl;
        this.operator = {
          id: operator.id,
          name: operator.name,
          avatarUrl: typeof avatarUrl === 'string' ? avatarUrl : null,
        };
        this.openSessionId = e.sessionId;
        this.#info(
          `joined:${e.sessionId}:${operator.id}`,
          fill(this.t.joined, { name: operator.name ?? this.t.someone }),
        );
        break;
      }
      case 'closed':
        this.openSessionId = null;
        this.operatorTypingUntil = 0;
        this.#info(`closed:${e.sessionId}`, this.t.closed);
        this.rating = { sessionId: e.sessionId, state: 'ask' };
        this.storage.set('rating', this.rating);
        break;
    }
    this.changed();
  }

  #info(key: string, text: string): void {
    if (this.messages.has(key)) return;
    this.messages.set(key, {
      key,
      id: key,
      sessionId: null,
      clientMessageId: null,
      author: 'system',
      name: null,
      text,
      attachments: [],
      createdAt: new Date().toISOString(),
      cursor: null,
      info: true,
    });
  }

  /** An operator's (or bot's) message came live: unread, sound and title unless the visitor is looking. */
  #arrived(m: VisitorMessage): void {
    if (this.open && !document.hidden) {
      this.#seen();
      return;
    }
    this.unread++;
    this.#notifier.alert(this.unread, this.t.newMessage, m.text);
  }

  /** The visitor looks at the conversation: unread cleared, the operator told it was read. */
  #seen(): void {
    if (!document.hidden) this.#notifier.clear();
    if (!this.open || document.hidden) return;
    if (this.unread > 0) {
      this.unread = 0;
      this.#notifier.clear();
      this.changed();
    }
    const last = this.sorted()
      .filter((m) => m.author !== 'visitor' && !m.info)
      .at(-1);
    if (!last || last.id === this.#lastReadSent || !this.#started) return;
    this.#lastReadSent = last.id;
    void this.api.command({ event: 'read' }).catch(() => {
      this.#lastReadSent = null;
    });
  }

  #merge(m: VisitorMessage): void {
    const key = m.author === 'visitor' && m.clientMessageId ? m.clientMessageId : m.id;
    const known = this.messages.get(key);
    if (known?.info) return;
    this.#put({ ...m, key, status: m.author === 'visitor' ? 'sent' : undefined });
    if (this.open && m.author !== 'visitor') queueMicrotask(() => this.#seen());
  }

  #put(m: ChatMessage): void {
    this.messages.set(m.key, m);
  }

  #setStatus(messageId: string, status: ChatMessage['status']): void {
    const m = this.messages.get(messageId);
    // The server's echo on the stream may have come first: it is sent already.
    if (m && (m.status !== 'sent' || status === 'sent')) this.messages.set(messageId, { ...m, status });
    this.changed();
  }

  #saveOutbox(): void {
    if (this.#outbox.length === 0) this.storage.remove('outbox');
    else this.storage.set('outbox', this.#outbox);
  }

  #retryLater(): void {
    if (this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.flush();
    }, RETRY_MS);
  }
}

function pendingMessage(o: Outgoing): ChatMessage {
  return {
    key: o.messageId,
    id: o.messageId,
    sessionId: null,
    clientMessageId: o.messageId,
    author: 'visitor',
    name: null,
    text: o.text,
    attachments: o.attachments,
    createdAt: o.createdAt,
    cursor: null,
    status: 'sending',
  };
}
