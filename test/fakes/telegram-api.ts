/**
 * A local stand-in for the Telegram Bot API (https://core.telegram.org/bots/api)
 * speaking its wire format: `/bot<token>/<method>` calls with parameters in the
 * query string, JSON, urlencoded or multipart bodies; `{ok, result}` envelopes;
 * file downloads at `/file/bot<token>/<file_path>`; getUpdates long polling with
 * real offset semantics; webhook delivery with the secret-token header.
 * Error texts follow tdlib/telegram-bot-api.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  fromJsonParam,
  guessMimeType,
  imageSize,
  parseParams,
  type RequestParams,
  readBody,
  sendJson,
  toBool,
  toInt,
  toStr,
  type UploadedFile,
} from './http-util.ts';

export interface FakeTelegramOptions {
  token?: string;
  botId?: number;
  botUsername?: string;
  botName?: string;
  /** message_id of the first message in every chat (default 1). */
  firstMessageId?: number;
  /** "immediate" (default): pushUpdate POSTs to the webhook at once; "manual": only deliverPending() does. */
  webhookDelivery?: 'immediate' | 'manual';
  /** Automatic mode: retry failed webhook deliveries every this many ms (default 0: only deliverPending()). */
  webhookRetryMs?: number;
}

export interface RecordedRequest {
  method: string;
  /** "GET" or "POST". */
  httpMethod: string;
  contentType: string;
  /** Parameters as they came: strings from query/form/multipart, JSON types from JSON bodies. */
  params: Record<string, unknown>;
  files: Record<string, UploadedFile>;
  at: number;
}

export interface WebhookAttempt {
  updateId: number;
  url: string;
  headers: Record<string, string>;
  /** HTTP status of the answer; 0 when the connection failed. */
  status: number;
  error?: string;
  at: number;
}

export interface FakeChat {
  id: number;
  first_name?: string;
  last_name?: string;
  username?: string;
  /** A file (see addFile) used as the chat photo and the user's profile photo. */
  photoFileId?: string;
}

export interface Failure {
  status: 429 | 403 | 400 | 500 | 502;
  retryAfter?: number;
  description?: string;
}

export interface FileInfo {
  file_id: string;
  file_unique_id: string;
  file_path: string;
  file_size: number;
}

type Json = Record<string, unknown>;
export type Update = { update_id: number } & Json;
type Message = { message_id: number; from: Json; chat: Json; date: number } & Json;
type Outcome = { status: number; body: Json };
interface StoredFile extends FileInfo {
  data: Buffer;
  mimeType: string;
  fileName?: string;
  width: number;
  height: number;
}
interface Ctx extends RequestParams {
  res?: ServerResponse;
}
type Handler = (ctx: Ctx) => unknown;

/** A handler's "I will answer later" (a held long poll). */
const HELD = Symbol('held');
const DEFAULT_FAILURES: Record<Failure['status'], string> = {
  400: 'Bad Request',
  403: 'Forbidden: bot was blocked by the user',
  429: 'Too Many Requests: retry after',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
};
/** Update types sent only when asked for explicitly in allowed_updates. */
const OPT_IN_UPDATES = ['chat_member', 'message_reaction', 'message_reaction_count'];
const CHAT_ACTIONS = new Set(
  'typing upload_photo record_video upload_video record_voice upload_voice upload_document choose_sticker find_location record_video_note upload_video_note'.split(
    ' ',
  ),
);
const LONG_POLL_MAX_TIMEOUT = 50;
const WEBHOOK_TIMEOUT_MS = 10_000;
const URL_FETCH_TIMEOUT_MS = 5_000;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly description: string,
    readonly retryAfter?: number,
  ) {
    super(description);
  }
}
const badRequest = (what: string) => new ApiError(400, `Bad Request: ${what}`);

/** A result answered with a `description` next to it (setWebhook, deleteWebhook). */
class Described {
  constructor(
    readonly result: unknown,
    readonly description: string,
  ) {}
}

const unixNow = () => Math.floor(Date.now() / 1000);
const compact = <T extends Json>(obj: T): T =>
  Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;

export class FakeTelegramApi {
  readonly apiRoot: string;
  readonly token: string;
  readonly botId: number;
  readonly botUsername: string;
  readonly botName: string;
  /** Every Bot API call, in order (not file downloads). */
  readonly requests: RecordedRequest[] = [];
  /** Every webhook POST, in order. */
  readonly webhookAttempts: WebhookAttempt[] = [];
  /** file_path of every successful download, in order. */
  readonly downloads: string[] = [];

  private pending: Update[] = [];
  private nextUpdateId = 10001;
  private allowedUpdates: string[] | null = null;
  private held: { res: ServerResponse; limit: number; timer: NodeJS.Timeout } | null = null;
  private hook: { url: string; secretToken?: string } | null = null;
  private hookError: { date: number; message: string } | null = null;
  private deliveryMode: 'immediate' | 'manual';
  private retryMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private deliveries: Promise<unknown> = Promise.resolve();
  private readonly files = new Map<string, StoredFile>();
  private fileCount = 0;
  private readonly chats = new Map<number, FakeChat>();
  private readonly messages = new Map<number, Map<number, Message>>();
  private readonly lastMessageIds = new Map<number, number>();
  private readonly firstMessageId: number;
  private readonly urlContents = new Map<string, { data: Buffer; mimeType?: string }>();
  private readonly failures = new Map<string, Failure[]>();
  private readonly latencies = new Map<string, number>();
  private readonly sleepers = new Set<() => void>();
  private readonly listeners = new Set<() => void>();
  private readonly handlers = new Map<string, Handler>();
  private readonly methodNames = new Map<string, string>();
  private readonly abort = new AbortController();
  private closed = false;

  /** Starts a fake listening on 127.0.0.1 at a random port. */
  static async start(opts: FakeTelegramOptions = {}): Promise<FakeTelegramApi> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    return new FakeTelegramApi(server, `http://127.0.0.1:${port}`, opts);
  }

  private constructor(
    private readonly server: Server,
    apiRoot: string,
    opts: FakeTelegramOptions,
  ) {
    this.apiRoot = apiRoot;
    this.token = opts.token ?? '123456:TEST-token';
    this.botId = opts.botId ?? toInt(this.token.split(':')[0]) ?? 123456;
    this.botUsername = opts.botUsername ?? 'test_contact_bot';
    this.botName = opts.botName ?? 'Test Bot';
    this.firstMessageId = opts.firstMessageId ?? 1;
    this.deliveryMode = opts.webhookDelivery ?? 'immediate';
    this.retryMs = opts.webhookRetryMs ?? 0;
    const handlers: Record<string, Handler> = {
      getMe: () => ({
        ...this.botUser(),
        can_join_groups: true,
        can_read_all_group_messages: false,
        supports_inline_queries: false,
      }),
      getUpdates: (c) => this.getUpdates(c),
      setWebhook: (c) => this.setWebhook(c.params),
      deleteWebhook: (c) => this.deleteWebhook(c.params),
      getWebhookInfo: () => this.webhookInfo(),
      sendMessage: (c) => this.sendMessage(c.params),
      sendPhoto: (c) => this.sendMedia(c, 'photo'),
      sendDocument: (c) => this.sendMedia(c, 'document'),
      editMessageText: (c) => this.editMessageText(c.params),
      getFile: (c) => this.fileInfo(this.knownFile(c.params.file_id, 'invalid file_id')),
      getChat: (c) => this.getChat(c.params),
      getUserProfilePhotos: (c) => this.getUserProfilePhotos(c.params),
      sendChatAction: (c) => this.sendChatAction(c.params),
    };
    for (const [name, handler] of Object.entries(handlers)) {
      this.handlers.set(name.toLowerCase(), handler);
      this.methodNames.set(name.toLowerCase(), name);
    }
    server.on('request', (req, res) => {
      this.handle(req, res).catch((err: unknown) =>
        this.reply(res, 500, {
          ok: false,
          error_code: 500,
          description: `Internal Server Error: ${String(err)}`,
        }),
      );
    });
  }

  // ---- inspection -------------------------------------------------------

  /** Recorded calls of one method (case-insensitive, like the Bot API). */
  calls(method: string): RecordedRequest[] {
    const key = method.toLowerCase();
    return this.requests.filter((r) => r.method.toLowerCase() === key);
  }

  /** Resolves with the `count`-th call of `method` once it has been recorded. */
  waitForCall(method: string, count = 1, timeoutMs = 2000): Promise<RecordedRequest> {
    const found = () => this.calls(method)[count - 1];
    const now = found();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const check = () => {
        const call = found();
        if (!call) return;
        this.listeners.delete(check);
        clearTimeout(timer);
        resolve(call);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`no call #${count} of ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.listeners.add(check);
    });
  }

  /** True while a getUpdates long poll is being held. */
  get polling(): boolean {
    return this.held !== null;
  }

  /** Updates not yet confirmed (polling) or acknowledged (webhook). */
  pendingUpdates(): Update[] {
    return [...this.pending];
  }

  webhook(): { url: string; secretToken?: string } | null {
    return this.hook && { ...this.hook };
  }

  // ---- scripting --------------------------------------------------------

  /** Queues an update (adding update_id from 10001 up when absent) or delivers it by webhook; returns its update_id. */
  pushUpdate(update: object): number {
    const given = (update as { update_id?: unknown }).update_id;
    const update_id = typeof given === 'number' ? given : this.nextUpdateId;
    this.nextUpdateId = Math.max(this.nextUpdateId, update_id + 1);
    const full: Update = { update_id, ...update };
    const type = Object.keys(full).find((k) => k !== 'update_id') ?? '';
    const allowed = this.allowedUpdates ? this.allowedUpdates.includes(type) : !OPT_IN_UPDATES.includes(type);
    if (!allowed) return update_id; // Telegram never creates updates the bot did not subscribe to
    this.pending.push(full);
    if (this.hook) {
      if (this.deliveryMode === 'immediate') void this.deliverPending();
    } else {
      queueMicrotask(() => this.releasePoll()); // updates pushed in one tick arrive together
    }
    return update_id;
  }

  /** Pushes a realistic private-chat `message` update from `from`; registers the chat when new. */
  pushMessage(fields: {
    from: { id: number; first_name?: string; last_name?: string; username?: string };
    text?: string;
    [k: string]: unknown;
  }): { update_id: number; message_id: number } {
    const { from, ...rest } = fields;
    const first_name = from.first_name ?? 'Test';
    const user = compact({
      id: from.id,
      is_bot: false,
      first_name,
      last_name: from.last_name,
      username: from.username,
      language_code: 'en',
    });
    if (!this.chats.has(from.id)) this.setChat({ ...from, first_name });
    if (typeof rest.text === 'string' && rest.text.startsWith('/') && !rest.entities) {
      rest.entities = [{ offset: 0, length: rest.text.search(/\s|$/), type: 'bot_command' }];
    }
    const message = this.newMessage(from.id, user, rest);
    return { update_id: this.pushUpdate({ message }), message_id: message.message_id };
  }

  /** Makes a downloadable file; its file_path defaults to documents/file_N.<ext of fileName>. */
  addFile(opts: {
    fileId?: string;
    data: Buffer;
    filePath?: string;
    mimeType?: string;
    fileName?: string;
  }): FileInfo {
    const kind = opts.filePath?.startsWith('photos/') ? 'photos' : 'documents';
    return this.fileInfo(this.storeFile({ ...opts, kind }));
  }

  /** Defines (or replaces) a private chat, as getChat will describe it. */
  setChat(chat: FakeChat): void {
    this.chats.set(chat.id, { ...chat });
  }

  /** Content served for an http(s) URL given as photo/document, without any network. */
  setUrlContent(url: string, content: { data: Buffer; mimeType?: string }): void {
    this.urlContents.set(url, content);
  }

  /**
   * The next `times` calls of `method` fail with this error (after being recorded).
   * The pseudo-method "download" fails file downloads.
   */
  failNext(method: string, failure: Failure, times = 1): void {
    const key = method.toLowerCase();
    const queue = this.failures.get(key) ?? [];
    for (let i = 0; i < times; i++) queue.push(failure);
    this.failures.set(key, queue);
  }

  /** Delays answers of `method` by `ms` (0 removes); "download" delays file downloads. */
  setLatency(method: string, ms: number): void {
    this.latencies.set(method.toLowerCase(), ms);
  }

  /** Switches webhook delivery between immediate and manual, and automatic retries (ms, 0 = off). */
  setWebhookDelivery(mode: 'immediate' | 'manual', retryMs = 0): void {
    this.deliveryMode = mode;
    this.retryMs = retryMs;
  }

  /** (webhook mode) POSTs pending updates in order now, stopping at the first failure; returns how many got a 2xx. */
  deliverPending(): Promise<number> {
    const run = this.deliveries.then(() => this.deliverQueue());
    this.deliveries = run.catch(() => undefined);
    return run;
  }

  /** Waits until no webhook delivery is in flight. */
  async settle(): Promise<void> {
    let last: Promise<unknown>;
    do {
      last = this.deliveries;
      await last;
    } while (last !== this.deliveries);
  }

  /** Ends held long polls (with an empty result), in-flight webhook posts and the server. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    clearTimeout(this.retryTimer);
    this.releasePoll();
    for (const wake of this.sleepers) wake();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => this.server.closeAllConnections(), 100);
      this.server.close(() => {
        clearTimeout(force);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }

  // ---- HTTP -------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.apiRoot);
    const download = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (download) {
      const [, token = '', filePath = ''] = download.map(decodeURIComponent);
      return this.download(token, filePath, res);
    }
    const [, token, method = ''] = /^\/bot([^/]+)\/([A-Za-z]*)$/.exec(url.pathname) ?? [];
    if (token === undefined) return this.reply(res, 404, errorBody(new ApiError(404, 'Not Found')));
    if (decodeURIComponent(token) !== this.token) {
      return this.reply(res, 401, errorBody(new ApiError(401, 'Unauthorized')));
    }
    const contentType = req.headers['content-type'] ?? '';
    let input: RequestParams;
    try {
      input = await parseParams(url, contentType, await readBody(req));
    } catch {
      return this.reply(res, 400, errorBody(badRequest("can't parse request body")));
    }
    const outcome = await this.call(method, { ...input, httpMethod: req.method ?? 'GET', contentType }, res);
    if (outcome) this.reply(res, outcome.status, outcome.body);
  }

  /** Records and runs one method; undefined when the answer is held (long poll). */
  private async call(
    requested: string,
    req: RequestParams & { httpMethod: string; contentType: string },
    res?: ServerResponse,
  ): Promise<Outcome | undefined> {
    const key = requested.toLowerCase();
    const method = this.methodNames.get(key) ?? requested;
    this.requests.push({
      method,
      httpMethod: req.httpMethod,
      contentType: req.contentType,
      params: req.params,
      files: req.files,
      at: Date.now(),
    });
    for (const listener of [...this.listeners]) listener();
    const latency = this.latencies.get(key);
    if (latency) await this.sleep(latency);
    try {
      const failure = this.failureFor(key);
      if (failure) throw failure;
      const handler = this.handlers.get(key);
      if (!handler) throw new ApiError(404, 'Not Found');
      const result = await handler({ params: req.params, files: req.files, res });
      if (result === HELD) return undefined;
      if (result instanceof Described)
        return { status: 200, body: { ok: true, result: result.result, description: result.description } };
      return { status: 200, body: { ok: true, result } };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return { status: err.status, body: errorBody(err) };
    }
  }

  private async download(token: string, filePath: string, res: ServerResponse): Promise<void> {
    if (token !== this.token) return this.reply(res, 401, errorBody(new ApiError(401, 'Unauthorized')));
    const latency = this.latencies.get('download');
    if (latency) await this.sleep(latency);
    const failure = this.failureFor('download');
    if (failure) return this.reply(res, failure.status, errorBody(failure));
    const file = [...this.files.values()].find((f) => f.file_path === filePath);
    if (!file) return this.reply(res, 404, errorBody(new ApiError(404, 'Not Found')));
    this.downloads.push(filePath);
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': file.mimeType, 'content-length': file.data.length });
    res.end(file.data);
  }

  private reply(res: ServerResponse, status: number, body: Json): void {
    if (this.closed && !res.headersSent) res.setHeader('connection', 'close');
    sendJson(res, status, body);
  }

  /** The error queued by failNext for this method, if any (consumed). */
  private failureFor(key: string): ApiError | undefined {
    const failure = this.failures.get(key)?.shift();
    if (!failure) return undefined;
    const retryAfter = failure.status === 429 ? (failure.retryAfter ?? 1) : undefined;
    const fallback =
      retryAfter === undefined ? DEFAULT_FAILURES[failure.status] : `${DEFAULT_FAILURES[429]} ${retryAfter}`;
    return new ApiError(failure.status, failure.description ?? fallback, retryAfter);
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  // ---- updates: long polling and webhooks ----------------------------------

  private getUpdates({ params, res }: Ctx): unknown {
    if (this.hook) {
      throw new ApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      );
    }
    const offset = toInt(params.offset) ?? 0;
    const limit = clamp(toInt(params.limit) ?? 100, 1, 100);
    const timeout = clamp(toInt(params.timeout) ?? 0, 0, LONG_POLL_MAX_TIMEOUT);
    this.setAllowedUpdates(params.allowed_updates);
    if (offset > 0) this.pending = this.pending.filter((u) => u.update_id >= offset);
    else if (offset < 0) this.pending = this.pending.slice(offset);
    if (this.pending.length > 0 || timeout === 0 || this.closed || !res) return this.pending.slice(0, limit);
    // Like telegram-bot-api: a poll that is about to be held ends the one already held.
    this.abortPoll(
      'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
    );
    const timer = setTimeout(() => this.releasePoll(), timeout * 1000);
    this.held = { res, limit, timer };
    res.on('close', () => {
      if (this.held?.res !== res) return;
      clearTimeout(timer);
      this.held = null;
    });
    return HELD;
  }

  /** Answers the held long poll with the pending updates (possibly none). */
  private releasePoll(): void {
    const held = this.held;
    if (!held) return;
    this.held = null;
    clearTimeout(held.timer);
    this.reply(held.res, 200, { ok: true, result: this.pending.slice(0, held.limit) });
  }

  private abortPoll(description: string): void {
    const held = this.held;
    if (!held) return;
    this.held = null;
    clearTimeout(held.timer);
    this.reply(held.res, 409, errorBody(new ApiError(409, description)));
  }

  /** allowed_updates: absent keeps the current setting, [] restores the default. */
  private setAllowedUpdates(value: unknown): void {
    const list = fromJsonParam(value);
    if (!Array.isArray(list)) return;
    this.allowedUpdates = list.length > 0 ? list.map(String) : null;
  }

  private setWebhook(params: Json): Described {
    const url = toStr(params.url) ?? '';
    if (!url) return this.deleteWebhook(params);
    if (!/^https?:\/\/[^/]+/i.test(url)) throw badRequest('invalid webhook URL specified');
    const secretToken = toStr(params.secret_token) || undefined;
    if (secretToken && secretToken.length > 256) throw badRequest('secret token is too long');
    if (secretToken && !/^[A-Za-z0-9_-]+$/.test(secretToken))
      throw badRequest('secret token contains unallowed characters');
    this.setAllowedUpdates(params.allowed_updates);
    if (toBool(params.drop_pending_updates)) this.pending = [];
    const same = this.hook?.url === url && this.hook.secretToken === secretToken;
    this.hook = { url, secretToken };
    this.abortPoll('Conflict: terminated by setWebhook request');
    if (!same) this.hookError = null;
    if (this.deliveryMode === 'immediate' && this.pending.length > 0)
      setImmediate(() => void this.deliverPending());
    return new Described(true, same ? 'Webhook is already set' : 'Webhook was set');
  }

  private deleteWebhook(params: Json): Described {
    if (toBool(params.drop_pending_updates)) this.pending = [];
    const had = this.hook !== null;
    this.hook = null;
    this.hookError = null;
    return new Described(true, had ? 'Webhook was deleted' : 'Webhook is already deleted');
  }

  private webhookInfo(): Json {
    return compact({
      url: this.hook?.url ?? '',
      has_custom_certificate: false,
      pending_update_count: this.pending.length,
      last_error_date: this.hookError?.date,
      last_error_message: this.hookError?.message,
      max_connections: this.hook ? 40 : undefined,
      ip_address: this.hook ? '127.0.0.1' : undefined,
      allowed_updates: this.allowedUpdates ?? undefined,
    });
  }

  private async deliverQueue(): Promise<number> {
    let delivered = 0;
    for (let update = this.pending[0]; update && this.hook && !this.closed; update = this.pending[0]) {
      if (!(await this.post(this.hook, update))) {
        if (this.retryMs > 0 && !this.closed && this.retryTimer === undefined) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            void this.deliverPending();
          }, this.retryMs);
        }
        break;
      }
      this.pending = this.pending.filter((u) => u !== update);
      delivered++;
    }
    return delivered;
  }

  /** One webhook POST; true when answered 2xx. */
  private async post(hook: { url: string; secretToken?: string }, update: Update): Promise<boolean> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (hook.secretToken) headers['x-telegram-bot-api-secret-token'] = hook.secretToken;
    const attempt: WebhookAttempt = {
      updateId: update.update_id,
      url: hook.url,
      headers,
      status: 0,
      at: Date.now(),
    };
    this.webhookAttempts.push(attempt);
    try {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(WEBHOOK_TIMEOUT_MS)]);
      const res = await fetch(hook.url, { method: 'POST', headers, body: JSON.stringify(update), signal });
      attempt.status = res.status;
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`Wrong response from the webhook: ${res.status} ${res.statusText}`);
      return true;
    } catch (err) {
      const { name, message, cause } = err as Error & { cause?: { code?: string; message?: string } };
      if (cause?.code === 'ECONNREFUSED') attempt.error = 'Connection refused';
      else if (name === 'TimeoutError') attempt.error = 'Read timeout expired';
      else attempt.error = cause?.message ?? message;
      this.hookError = { date: unixNow(), message: attempt.error };
      return false;
    }
  }

  // ---- chats and messages ---------------------------------------------------

  private botUser(): Json {
    return { id: this.botId, is_bot: true, first_name: this.botName, username: this.botUsername };
  }

  private chatId(params: Json): number {
    if (params.chat_id === undefined || params.chat_id === '') throw badRequest('chat_id is empty');
    const id = toInt(params.chat_id);
    if (id === undefined) throw badRequest('chat not found');
    return id;
  }

  private chatRef(chatId: number): Json {
    const c = this.chats.get(chatId);
    return compact({
      id: chatId,
      first_name: c?.first_name,
      last_name: c?.last_name,
      username: c?.username,
      type: 'private',
    });
  }

  private newMessage(chatId: number, from: Json, fields: Json): Message {
    const message_id = (this.lastMessageIds.get(chatId) ?? this.firstMessageId - 1) + 1;
    this.lastMessageIds.set(chatId, message_id);
    const message: Message = { message_id, from, chat: this.chatRef(chatId), date: unixNow(), ...fields };
    const stored = this.messages.get(chatId) ?? new Map<number, Message>();
    stored.set(message_id, message);
    this.messages.set(chatId, stored);
    return message;
  }

  /** The message replied to (reply_to_message_id or reply_parameters.message_id). */
  private replyTarget(chatId: number, params: Json): Message | undefined {
    const replyParameters = fromJsonParam(params.reply_parameters) as Json | undefined;
    const id = toInt(replyParameters?.message_id ?? params.reply_to_message_id);
    if (id === undefined) return undefined;
    const target = this.messages.get(chatId)?.get(id);
    const allowWithout = toBool(
      replyParameters?.allow_sending_without_reply ?? params.allow_sending_without_reply,
    );
    if (!target && !allowWithout) throw badRequest('message to be replied not found');
    if (!target) return undefined;
    const { reply_to_message: _, ...rest } = target;
    return rest as Message;
  }

  private checkParseMode(params: Json): void {
    const mode = toStr(params.parse_mode)?.toLowerCase();
    if (mode && !['html', 'markdown', 'markdownv2', 'none'].includes(mode))
      throw badRequest('unsupported parse_mode');
  }

  private sendMessage(params: Json): Message {
    const chatId = this.chatId(params);
    const text = toStr(params.text) ?? '';
    if (!text) throw badRequest('message text is empty');
    if (text.length > 4096) throw badRequest('message is too long');
    this.checkParseMode(params);
    const reply_to_message = this.replyTarget(chatId, params);
    return this.newMessage(chatId, this.botUser(), compact({ reply_to_message, text }));
  }

  private async sendMedia(ctx: Ctx, field: 'photo' | 'document'): Promise<Message> {
    const chatId = this.chatId(ctx.params);
    const caption = toStr(ctx.params.caption) || undefined;
    if (caption && caption.length > 1024) throw badRequest('message caption is too long');
    this.checkParseMode(ctx.params);
    const reply_to_message = this.replyTarget(chatId, ctx.params);
    const file = await this.inputFile(field, ctx);
    const media =
      field === 'photo'
        ? { photo: [this.photoSize(file)] }
        : {
            document: compact({
              file_name: file.fileName,
              mime_type: file.mimeType,
              ...this.fileIds(file),
              file_size: file.file_size,
            }),
          };
    return this.newMessage(chatId, this.botUser(), compact({ reply_to_message, ...media, caption }));
  }

  private editMessageText(params: Json): Message {
    const chatId = this.chatId(params);
    const id = toInt(params.message_id);
    const message = id === undefined ? undefined : this.messages.get(chatId)?.get(id);
    if (!message) throw badRequest('message to edit not found');
    if (message.from.id !== this.botId) throw badRequest("message can't be edited");
    const text = toStr(params.text) ?? '';
    if (!text) throw badRequest('message text is empty');
    this.checkParseMode(params);
    if (text === message.text) {
      throw badRequest(
        'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
      );
    }
    const edited: Message = { ...message, edit_date: unixNow(), text };
    this.messages.get(chatId)?.set(edited.message_id, edited);
    return edited;
  }

  private getChat(params: Json): Json {
    const chat = this.chats.get(this.chatId(params));
    if (!chat) throw badRequest('chat not found');
    const photo = chat.photoFileId ? this.files.get(chat.photoFileId) : undefined;
    const fileId = chat.photoFileId;
    const uniqueId = photo?.file_unique_id ?? `AQAD-fake-chat-${chat.id}`;
    return compact({
      ...this.chatRef(chat.id),
      photo: fileId && {
        small_file_id: fileId,
        small_file_unique_id: uniqueId,
        big_file_id: fileId,
        big_file_unique_id: uniqueId,
      },
      accent_color_id: 0,
      max_reaction_count: 11,
    });
  }

  private getUserProfilePhotos(params: Json): Json {
    const chat = this.chats.get(toInt(params.user_id) ?? Number.NaN);
    if (!chat) throw badRequest('user not found');
    const photo = chat.photoFileId ? this.files.get(chat.photoFileId) : undefined;
    const photos = photo ? [[this.photoSize(photo)]] : [];
    const offset = Math.max(0, toInt(params.offset) ?? 0);
    const limit = clamp(toInt(params.limit) ?? 100, 1, 100);
    return { total_count: photos.length, photos: photos.slice(offset, offset + limit) };
  }

  private sendChatAction(params: Json): boolean {
    this.chatId(params);
    if (!CHAT_ACTIONS.has(toStr(params.action) ?? '')) throw badRequest('wrong parameter action in request');
    return true;
  }

  // ---- files ----------------------------------------------------------------

  /** photo/document given as an upload (or attach://name), a known file_id or an http(s) URL. */
  private async inputFile(field: string, { params, files }: Ctx): Promise<StoredFile> {
    const value = toStr(params[field]);
    const upload = files[value?.startsWith('attach://') ? value.slice(9) : field];
    const kind = field === 'photo' ? 'photos' : 'documents';
    if (upload)
      return this.storeFile({ data: upload.data, fileName: upload.name, mimeType: upload.type, kind });
    if (!value) throw badRequest(`there is no ${field} in the request`);
    if (!/^https?:\/\//i.test(value))
      return this.knownFile(value, 'wrong file identifier/HTTP URL specified');
    const fileName = decodeURIComponent(new URL(value).pathname.split('/').pop() ?? '') || undefined;
    const preset = this.urlContents.get(value);
    if (preset) return this.storeFile({ ...preset, fileName, kind });
    try {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(URL_FETCH_TIMEOUT_MS)]);
      const res = await fetch(value, { signal });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const data = Buffer.from(await res.arrayBuffer());
      return this.storeFile({
        data,
        fileName,
        mimeType: res.headers.get('content-type')?.split(';')[0],
        kind,
      });
    } catch {
      throw badRequest('failed to get HTTP URL content');
    }
  }

  private knownFile(fileId: unknown, error: string): StoredFile {
    const file = this.files.get(toStr(fileId) ?? '');
    if (!file) throw badRequest(toStr(fileId) ? error : 'file_id not specified');
    return file;
  }

  private storeFile(opts: {
    data: Buffer;
    kind: 'photos' | 'documents';
    fileId?: string;
    filePath?: string;
    mimeType?: string;
    fileName?: string;
  }): StoredFile {
    const n = ++this.fileCount;
    const dot = opts.fileName?.lastIndexOf('.') ?? -1;
    const ext =
      opts.fileName && dot > 0
        ? opts.fileName.slice(dot).toLowerCase()
        : opts.kind === 'photos'
          ? '.jpg'
          : '';
    const file_path = opts.filePath ?? `${opts.kind}/file_${n}${ext}`;
    const typed = opts.mimeType && opts.mimeType !== 'application/octet-stream';
    const size = imageSize(opts.data) ?? { width: 320, height: 240 };
    const file: StoredFile = {
      file_id:
        opts.fileId ?? `${opts.kind === 'photos' ? 'AgAC' : 'BQAC'}-fake-${opts.kind.slice(0, -1)}-${n}`,
      file_unique_id: `AQAD-fake-${n}`,
      file_path,
      file_size: opts.data.length,
      data: opts.data,
      mimeType: typed ? (opts.mimeType as string) : guessMimeType(opts.fileName ?? file_path),
      fileName: opts.fileName,
      ...size,
    };
    this.files.set(file.file_id, file);
    return file;
  }

  private fileIds(file: StoredFile): { file_id: string; file_unique_id: string } {
    return { file_id: file.file_id, file_unique_id: file.file_unique_id };
  }

  private fileInfo(file: StoredFile): FileInfo {
    return { ...this.fileIds(file), file_size: file.file_size, file_path: file.file_path };
  }

  private photoSize(file: StoredFile): Json {
    return { ...this.fileIds(file), file_size: file.file_size, width: file.width, height: file.height };
  }
}

function errorBody(err: ApiError): Json {
  const body: Json = { ok: false, error_code: err.status, description: err.description };
  if (err.retryAfter !== undefined) body.parameters = { retry_after: err.retryAfter };
  return body;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
