/**
 * The channel provider interface: one folder per messenger implements it, and the registry binds it
 * to its name (the guide's five workers: registration, income conversion, profile data, attachment
 * loading, outcome sending — plus long polling where the messenger has no webhook).
 *
 * Providers know the messenger's wire format and nothing of our database: they turn requests into
 * unified events and unified messages into requests. The pipeline does the rest.
 */
import type { Readable } from 'node:stream';
import type { MessageView } from '../domain/message/message.service.ts';
import type { MessageType } from '../domain/message/message.ts';
import type { CodeOf } from '../errors/codes.ts';
import type { MessageTemplate, ReplyWindowPolicy } from './reply-window.ts';

/** What a provider sees of its channel. `settings` are decrypted; never log them. */
export interface ProviderChannel {
  id: string;
  name: string;
  type: string;
  source: string | null;
  settings: Record<string, unknown>;
}

export interface ProviderContext {
  channel: ProviderChannel;
  /** Public base URL of this server (for webhook URLs), when configured. */
  publicUrl: string | null;
  /** fetch, injectable for tests; providers use it for every HTTP call. */
  fetch: typeof fetch;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /**
   * Publishes to a client's own realtime stream (with history, so a reconnecting client recovers
   * it), for channels whose clients connect to the gateway themselves (the live-chat widget).
   * Absent where the process runs no gateway.
   */
  pushToClient?(externalUserId: string, data: unknown): Promise<void>;
}

/** What happened to a client's conversation, for channels that show it (see `notify`). */
export type ClientNotice =
  /**
   * The client's own message, stored: their other tabs and devices show it too. `fileUrls` are
   * signed download links of its attachments, in order (null while a file is not stored yet).
   */
  | { type: 'received'; sessionId: string; message: MessageView; fileUrls: (string | null)[] }
  /**
   * An operator read the client's messages; `lastExternalId` is the messenger's id of the latest
   * of them (WhatsApp marks a message and those before it read), filled in for the provider.
   */
  | { type: 'read'; sessionId: string; readAt: string; lastExternalId?: string | null }
  | { type: 'closed'; sessionId: string; closedAt: string; byClient: boolean }
  | { type: 'assigned'; sessionId: string; operator: { id: string; name: string | null } };

/** A client connecting to the realtime gateway (or calling the HTTP API) with a token the provider issued. */
export interface ClientCredentials {
  token: string;
  /** The Origin header of the WebSocket upgrade or HTTP request. */
  origin: string | undefined;
}

/** A messenger user as a message or a profile lookup describes them. */
export interface ExternalUser {
  externalId: string;
  username?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  phone?: string | null;
  email?: string | null;
  avatarUrl?: string | null;
}

export interface InboundAttachment {
  /** How the provider finds the bytes again (a file id, a URL…), passed back to loadAttachment. */
  ref: string;
  /**
   * The bytes are in our file store already (a live-chat visitor's upload): the message points at
   * this file at once (bound to the message's session), nothing is downloaded and `ref` is unused.
   */
  fileId?: string | null;
  name?: string | null;
  mimeType?: string | null;
  size?: number | null;
}

/** Unified inbound events (UnifiedMessage and friends). */
export type InboundEvent =
  | {
      kind: 'message';
      /** The messenger's id of the message: the de-duplication key within the channel. */
      externalMessageId: string;
      from: ExternalUser;
      type: MessageType;
      text?: string | null;
      attachments?: InboundAttachment[];
      timestamp: Date;
      /** True for the messenger echoing a message this channel sent (never stored twice). */
      echo?: boolean;
      /**
       * Where the messenger threads conversations (e-mail): the ids of the messages this one answers
       * (In-Reply-To, then References newest first) and the conversation's title (the subject). A
       * reply to a message of an open session goes to that session; a new session takes the title.
       */
      thread?: { references: string[]; title?: string | null };
      /**
       * Sent by a machine (an auto-reply, a mailing list): stored only into an open session, never
       * opens one and is never answered (no mail loops).
       */
      automated?: boolean;
    }
  | { kind: 'edited'; externalMessageId: string; from: ExternalUser; text: string | null; timestamp: Date }
  /**
   * The client read our messages: up to one, or those written up to a moment (a watermark:
   * Messenger, Instagram), or all when neither is given.
   */
  | {
      kind: 'read';
      from: ExternalUser;
      upToExternalMessageId?: string | null;
      upToTime?: Date | null;
      timestamp: Date;
    }
  /** Delivery status of one of our outgoing messages. */
  | {
      kind: 'delivery';
      externalMessageId: string;
      status: 'delivered' | 'read' | 'failed';
      error?: string | null;
      timestamp: Date;
    }
  | { kind: 'typing'; from: ExternalUser; timestamp: Date }
  /**
   * The client ended the conversation: a live-chat visitor's "end chat", the api channel's `close`,
   * a messenger saying the user left (Telegram: the user blocked the bot; Viber: `unsubscribed`).
   * Their open session closes as the client (sessionClosedByClient); a later message opens a new one.
   */
  | {
      kind: 'closed';
      from: ExternalUser;
      reason?: string | null;
      timestamp: Date;
      /**
       * The messenger refuses our messages to this user from now on (they blocked us, Viber
       * `unsubscribed`): the client is marked unreachable until they write again.
       */
      unreachable?: boolean;
    }
  /**
   * Explicit presence, where the messenger reports it (the api channel's `online` / `offline`, a
   * live-chat visitor's connection). Messages, typing and read receipts count as presence too.
   */
  | { kind: 'presence'; from: ExternalUser; online: boolean; timestamp: Date }
  | { kind: 'unsupported'; from?: ExternalUser | null; description: string; timestamp: Date };

export interface WebhookRequest {
  method: string;
  /** The URL path and query as the messenger called it. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, string | undefined>;
  /** The raw body bytes, exactly as received: signatures are computed over them. */
  rawBody: Buffer;
}

export interface WebhookResult {
  events: InboundEvent[];
  /** Override the acknowledgement (some messengers want a specific answer). */
  reply?: { status: number; body: unknown; contentType?: string };
}

export interface OutboundAttachment {
  fileId: string;
  name: string | null;
  mimeType: string;
  size: number;
  /**
   * A signed link that downloads the bytes without a token until `urlExpiresAt`, for a receiver
   * that fetches files itself (absolute under OMNILINE_PUBLIC_URL; a path on this server without it).
   */
  url: string;
  urlExpiresAt: Date;
  /** Opens the stored bytes (multipart uploads). */
  open(): Readable;
}

/** What the outbound worker asks a provider to send. */
export interface OutboundMessage {
  /** Our message id: an idempotency key where the messenger accepts one. */
  id: string;
  to: ExternalUser;
  type: MessageType;
  text: string | null;
  attachments: OutboundAttachment[];
  sender: { type: string; id: string | null; name?: string | null };
  /** The messenger's id of the message, for edits. */
  externalId?: string | null;
  /** Where the provider has a reply window: whether this send is inside it only through a tag. */
  window?: { tagged: boolean; lastClientMessageAt: Date | null };
  /** An approved template to send instead of text (providers with `sendsTemplates`). */
  template?: MessageTemplate;
  /**
   * The conversation, for messengers that thread by reference (e-mail): the session's title and the
   * messenger ids of its messages, oldest first (In-Reply-To is the last, References all of them).
   */
  thread?: { title: string | null; references: string[] };
}

export interface PollResult {
  events: InboundEvent[];
  /** The cursor to persist once the events are stored (in their transaction: `pollsInBatches`). */
  cursor: string | null;
}

export interface LoadedAttachment {
  stream: Readable;
  mimeType?: string | null;
  name?: string | null;
  size?: number | null;
}

export interface RegistrationResult {
  /** The channel's own id in the messenger (bot id, page id…), learned from its credentials. */
  source: string | null;
  /** Settings the provider generated (e.g. a webhook secret), merged into the stored settings; null removes a key. */
  settings?: Record<string, unknown>;
}

export interface ChannelProvider {
  /** Registry key, also the webhook path segment: `/webhooks/<name>/<channelId>`. */
  readonly name: string;
  /** The channel type it serves (a LineChannelType, or a new one a plugin brings). */
  readonly channelType: string;
  /** Settings keys that are not secret and may be shown back (e.g. "mode", "callbackUrl"). */
  readonly publicSettings: readonly string[];
  /** Whether `send` passes our message id so the messenger drops a repeated send (exactly-once). */
  readonly idempotentSend: boolean;
  /** Whether messages thread by reference (e-mail): `send` then gets `OutboundMessage.thread`. */
  readonly threads?: boolean;

  /**
   * Free-form replies only within a window after the client's last message (see reply-window.ts):
   * outside it a send is refused with 409 WINDOW_CLOSED.
   */
  readonly replyWindow?: ReplyWindowPolicy;
  /** Whether `send` takes `message.template` (the way to write outside the reply window). */
  readonly sendsTemplates?: boolean;

  /** Checks and normalises settings; throws InvalidField naming `settings.<key>`. */
  validateSettings(settings: Record<string, unknown>): Record<string, unknown>;
  /**
   * Why a channel with these (decrypted) settings cannot deliver messages, or null when it can —
   * e.g. an api channel without a `callbackUrl`. A send (or edit) is then refused at once with 409
   * `CHANNEL_CANNOT_DELIVER` naming the reason, instead of failing later in the worker. Without it
   * a channel is taken to be able to deliver.
   */
  canSend?(settings: Record<string, unknown>): string | null;
  /** Validates credentials, learns the source, sets the webhook where the messenger has one. */
  register?(ctx: ProviderContext): Promise<RegistrationResult>;
  /** Undoes register on disconnect (e.g. deletes the webhook). */
  unregister?(ctx: ProviderContext): Promise<void>;
  /** Verifies the signature or secret FIRST (throw WebhookRejected), then converts to events. */
  parseWebhook?(ctx: ProviderContext, request: WebhookRequest): Promise<WebhookResult>;
  /**
   * Answers a messenger's availability check of the webhook URL before the channel is looked up
   * (Viber calls it while `set_webhook` runs, when the channel is not stored yet); null when the
   * request is no such check. Never stores anything.
   */
  probe?(request: WebhookRequest): { status: number; body: unknown } | null;
  /** Answers a messenger's webhook verification (GET with a challenge); null means refused. */
  verifyChallenge?(ctx: ProviderContext, request: WebhookRequest): { status: number; body: string } | null;
  /** Whether this channel is read by polling (with its current settings). */
  polls?(channel: ProviderChannel): boolean;
  /**
   * A poll round's messages are stored in ONE transaction with its cursor (e-mail: a fetched batch
   * of a folder); otherwise each message is stored on its own and the cursor saved after them.
   */
  readonly pollsInBatches?: boolean;
  /** One long-poll round from a cursor. */
  poll?(ctx: ProviderContext, cursor: string | null, signal: AbortSignal): Promise<PollResult>;
  /** Sends; returns the messenger's message id. Throws ProviderError. */
  send(ctx: ProviderContext, message: OutboundMessage): Promise<{ externalId: string }>;
  /** Shows the client that an operator is typing, where the messenger can. */
  sendTyping?(ctx: ProviderContext, to: ExternalUser): Promise<void>;
  /** Edits a sent message, where the messenger can. */
  edit?(ctx: ProviderContext, message: OutboundMessage & { externalId: string }): Promise<void>;
  /** Profile of a messenger user; null when unknown. */
  fetchProfile?(ctx: ProviderContext, externalUserId: string): Promise<ExternalUser | null>;
  /**
   * Who a client connecting with a token of this channel is (the live-chat visitor), or null when
   * the token or the origin is refused. Throw ProviderError('TOKEN_EXPIRED') for an expired token
   * (the client asks for a new one and reconnects).
   */
  authenticateClient?(ctx: ProviderContext, credentials: ClientCredentials): { externalId: string } | null;
  /** Shows the client what happened to their conversation, where the channel can (read, closed, assigned). */
  notify?(ctx: ProviderContext, to: ExternalUser, notice: ClientNotice): Promise<void>;
  /** The notices `notify` shows (all when absent): no lookups are made for the others. */
  readonly notices?: readonly ClientNotice['type'][];
  /** Opens an inbound attachment by the ref the provider put in the event. */
  loadAttachment?(ctx: ProviderContext, ref: string): Promise<LoadedAttachment>;
}

/**
 * A provider's failure to talk to its messenger. Retryable ones (429, 5xx, network) are retried with
 * backoff, honouring `retryAfterMs`; permanent ones fail the message, `clientUnreachable` marks
 * the client (e.g. the user blocked the bot) and `channelError` the channel.
 */
export class ProviderError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly opts: {
      retryable: boolean;
      retryAfterMs?: number;
      clientUnreachable?: boolean;
      /**
       * The messenger refuses the channel's own credentials (a revoked or expired token): the
       * channel goes to state `error` with this message as its reason until its settings are fixed.
       */
      channelError?: boolean;
      status?: number;
    } = {
      retryable: false,
    },
  ) {
    super(message);
    this.name = 'ProviderError';
  }
  get retryable(): boolean {
    return this.opts.retryable;
  }
}

/** A webhook that fails verification: answered 401, nothing stored. */
export class WebhookRejected extends Error {
  constructor(
    readonly code: CodeOf<401>,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookRejected';
  }
}
