/**
 * Send (MessageManager.Send): an operator's reply is stored `pending` together with an outbox job in
 * one transaction; the job worker sends it through the channel's provider and records `sent` (with
 * the messenger's id) or `failed`. A send is attempted again only after a definite retryable answer
 * or a crash: providers that pass our message id as an idempotency key make that exactly-once.
 */
import type { ChannelRow } from '../domain/channel/channel.repository.ts';
import { channelRepository } from '../domain/channel/channel.repository.ts';
import { clientRepository } from '../domain/client/client.repository.ts';
import type { Deps } from '../domain/deps.ts';
import { type MessageRow, messageRepository } from '../domain/message/message.repository.ts';
import { type MessageView, messageView } from '../domain/message/message.service.ts';
import type { MessageType } from '../domain/message/message.ts';
import { messageUpdates } from '../domain/message/message-updates.ts';
import { recordMessage } from '../domain/message/record-message.ts';
import { type SessionRow, sessionRepository } from '../domain/session/session.repository.ts';
import type { SessionService } from '../domain/session/session.service.ts';
import { isOpen, type SessionState } from '../domain/session/session.ts';
import { userRepository } from '../domain/user/user.repository.ts';
import type { Caller } from '../domain/user/user.ts';
import { Conflict, Forbidden, InvalidField, NotFound } from '../errors.ts';
import { fileRepository } from '../files/file.repository.ts';
import type { FileService } from '../files/file.service.ts';
import type { JobOutcome } from '../jobs/worker.ts';
import type { Prometheus } from '../observability/prometheus.ts';
import { messageTypeOf } from '../providers/api/api.provider.ts';
import { type ChannelProvider, type OutboundMessage, ProviderError } from '../providers/provider.ts';
import { type MessageTemplate, replyWindowState, templateText } from '../providers/reply-window.ts';
import type { ProviderHost } from './provider-host.ts';

export const SEND_JOB = 'message.send';
export const EDIT_JOB = 'message.edit';

export interface SendInput {
  text?: string | null;
  fileIds?: string[];
  /** An approved template instead of text and files (providers that send templates). */
  template?: MessageTemplate;
}

export class OutboundPipeline {
  constructor(
    private readonly deps: Deps,
    private readonly sessions: SessionService,
    private readonly host: ProviderHost,
    private readonly files: FileService,
    private readonly onJobsQueued: () => void = () => {},
    /** Counts failed send attempts (`omniline_send_failures_total`). */
    private readonly metrics?: Pick<Prometheus, 'sendFailed'>,
    /** Puts a channel whose credentials the messenger refuses in state `error`, saying why. */
    private readonly markChannelError: (
      channelId: string,
      reason: string,
    ) => Promise<unknown> = async () => {},
  ) {}

  /** The reply window of a client in a channel whose provider has one (null: no window). */
  async #window(provider: ChannelProvider, channel: ChannelRow, clientId: string) {
    if (!provider.replyWindow) return null;
    const last = await sessionRepository.lastClientMessageAt(this.deps.db, clientId, channel.id);
    const settings = this.host.providerChannel(channel).settings;
    return { ...replyWindowState(provider.replyWindow, settings, last, this.deps.clock.now()), last };
  }

  /** Refuses a free-form send outside the reply window (409 WINDOW_CLOSED), or a template the provider cannot send. */
  async #checkWindow(channel: ChannelRow, session: SessionRow, template: boolean): Promise<void> {
    const provider = this.host.providerFor(channel)!;
    if (template) {
      if (!provider.sendsTemplates) {
        throw new Conflict('TEMPLATES_NOT_SUPPORTED', `${channel.type} channels do not send templates`);
      }
      return;
    }
    const window = await this.#window(provider, channel, session.clientId);
    if (!window || window.open) return;
    throw new Conflict(
      'WINDOW_CLOSED',
      `${provider.name} accepts free-form replies only within ${provider.replyWindow!.hours} hours of the client's last message` +
        (provider.sendsTemplates
          ? '; send an approved template: {"template": {"name", "language", "components"}}'
          : ''),
      {
        lastClientMessageAt: window.last?.toISOString() ?? null,
        closedAt: window.closesAt?.toISOString() ?? null,
        windowHours: provider.replyWindow!.hours,
        templates: !!provider.sendsTemplates,
      },
    );
  }

  /** Checks the caller may write in the session, and the channel can carry the message. */
  async #writable(sessionId: string, caller: Caller): Promise<{ session: SessionRow; channel: ChannelRow }> {
    const session = await this.sessions.visible(sessionId, caller);
    if (!isOpen(session.state as SessionState)) {
      throw new Conflict('SESSION_CLOSED', 'the session is closed; start a new one to write to the client');
    }
    if (caller.role === 'operator' && session.operatorId !== caller.id) {
      throw new Forbidden('accept the session before writing in it', 'NOT_YOUR_SESSION');
    }
    if (caller.role === 'bot' && session.botId !== caller.id) {
      throw new Forbidden('not this bot’s session', 'NOT_YOUR_SESSION');
    }
    const channel = await channelRepository.byId(this.deps.db, session.channelId);
    if (channel?.state !== 'active') {
      throw new Conflict('CHANNEL_NOT_ACTIVE', `the channel is ${channel?.state ?? 'gone'}`);
    }
    if (!this.host.providerFor(channel)) {
      throw new Conflict('CHANNEL_CANNOT_SEND', `no provider sends through ${channel.type} channels`);
    }
    const reason = this.#cannotDeliver(channel);
    if (reason) {
      throw new Conflict('CHANNEL_CANNOT_DELIVER', `the channel cannot deliver messages: ${reason}`, {
        channelId: channel.id,
        reason,
      });
    }
    const client = await clientRepository.byId(this.deps.db, session.clientId);
    if (client?.unreachable) {
      throw new Conflict(
        'CLIENT_UNREACHABLE',
        client.unreachableReason ?? 'the messenger refuses messages to this client',
      );
    }
    return { session, channel };
  }

  /** Why the channel's provider says it cannot deliver with its settings now (null: it can). */
  #cannotDeliver(channel: ChannelRow): string | null {
    const provider = this.host.providerFor(channel);
    return provider?.canSend?.(this.host.providerChannel(channel).settings) ?? null;
  }

  /** Stores an operator's message `pending` with its outbox job; the worker sends it. */
  async send(sessionId: string, input: SendInput, caller: Caller): Promise<MessageView> {
    const template = input.template;
    if (template && (input.text || input.fileIds?.length)) {
      throw new InvalidField('body.template', 'is sent alone: without text or files');
    }
    const text = template ? templateText(template) : input.text?.trim() ? input.text : null;
    const fileIds = [...new Set(input.fileIds ?? [])];
    if (!text && fileIds.length === 0) throw new InvalidField('body.text', 'a message needs text or files');
    const { session, channel } = await this.#writable(sessionId, caller);
    await this.#checkWindow(channel, session, !!template);
    const stored = await fileRepository.byIds(this.deps.db, fileIds);
    const files = fileIds.map((id, i) => {
      const f = stored.find((s) => s.id === id);
      if (!f || (f.uploadedBy !== caller.id && f.sessionId !== session.id && caller.role !== 'admin')) {
        throw new InvalidField(`body.fileIds[${i}]`, `no file ${id} of yours`);
      }
      return f;
    });
    const attachments = files.map((f) => ({
      fileId: f.id,
      name: f.name,
      mimeType: f.mimeType,
      size: f.size,
    }));
    const senderType = caller.role === 'bot' ? 'bot' : 'operator';
    const row = await this.deps.uow.run(async (tx) => {
      const message = (await recordMessage(tx, {
        session,
        at: this.deps.clock.now(),
        values: {
          channelId: channel.id,
          direction: 'outgoing',
          type: messageTypeOf(attachments) as MessageType,
          text,
          attachments,
          senderType,
          senderId: caller.id,
          status: 'pending',
        },
        touch: { byOperator: senderType === 'operator', operatorId: caller.id },
        files: files.map((f) => f.id),
        jobs: (m) => [
          { kind: SEND_JOB, payload: { messageId: m.id, ...(template && { template }) }, maxAttempts: 8 },
        ],
      }))!;
      return message;
    });
    this.onJobsQueued();
    return messageView(row);
  }

  /** Sends an automatic message from the system (e.g. the outside-business-hours auto-reply). */
  async sendSystem(sessionId: string, text: string): Promise<void> {
    const session = await sessionRepository.byId(this.deps.db, sessionId);
    const channel = session && (await channelRepository.byId(this.deps.db, session.channelId));
    if (!session || !channel || channel.state !== 'active' || !this.host.providerFor(channel)) return;
    if (this.#cannotDeliver(channel)) return;
    const window = await this.#window(this.host.providerFor(channel)!, channel, session.clientId);
    if (window && !window.open) return; // an automatic reply cannot reopen a closed window
    await this.deps.uow.run((tx) =>
      recordMessage(tx, {
        session,
        at: this.deps.clock.now(),
        values: {
          channelId: channel.id,
          direction: 'outgoing',
          type: 'text',
          text,
          senderType: 'system',
          status: 'pending',
        },
        touch: false,
        jobs: (m) => [{ kind: SEND_JOB, payload: { messageId: m.id }, maxAttempts: 8 }],
      }),
    );
    this.onJobsQueued();
  }

  /** Edits an outgoing message where the provider can; the edit is sent by the worker. */
  async edit(messageId: string, text: string, caller: Caller): Promise<MessageView> {
    const message = await messageRepository.byId(this.deps.db, messageId);
    if (!message) throw new NotFound('Message', messageId);
    const { channel } = await this.#writable(message.sessionId, caller).catch((err) => {
      if (err instanceof NotFound) throw new NotFound('Message', messageId);
      throw err;
    });
    if (message.direction !== 'outgoing' || message.senderType === 'client') {
      throw new Conflict('MESSAGE_NOT_EDITABLE', 'only messages sent from here can be edited');
    }
    if (caller.role === 'operator' && message.senderId !== caller.id) {
      throw new Forbidden('operators edit only their own messages', 'NOT_YOUR_MESSAGE');
    }
    if (!this.host.providerFor(channel)?.edit) {
      throw new Conflict('EDIT_NOT_SUPPORTED', `${channel.type} messages cannot be edited`);
    }
    const row = await this.deps.uow.run((tx) =>
      messageUpdates.edited(tx, message, {
        text,
        at: this.deps.clock.now(),
        resend: { job: EDIT_JOB, maxAttempts: 5 },
      }),
    );
    this.onJobsQueued();
    return messageView(row);
  }

  async #outboundMessage(
    message: MessageRow,
    session: SessionRow,
    threads = false,
  ): Promise<OutboundMessage> {
    const client = await clientRepository.byId(this.deps.db, session.clientId);
    if (!client) throw new ProviderError('CLIENT_GONE', 'the client no longer exists', { retryable: false });
    const sender = message.senderId
      ? await userRepository.byId(this.deps.db, message.senderId).catch(() => undefined)
      : undefined;
    const files = await fileRepository.byIds(
      this.deps.db,
      message.attachments.map((a) => a.fileId).filter((id): id is string => !!id),
    );
    const now = this.deps.clock.now();
    const thread = threads
      ? {
          title: session.title,
          references: await messageRepository.externalIdsOfSession(this.deps.db, session.id),
        }
      : undefined;
    return {
      id: message.id,
      thread,
      to: {
        externalId: client.externalId,
        username: client.username,
        phone: client.phone,
        email: client.email,
      },
      type: message.type as MessageType,
      text: message.text,
      attachments: files.map((f) => {
        const link = this.files.links.url(f.id, now, this.host.publicUrl);
        return {
          fileId: f.id,
          name: f.name,
          mimeType: f.mimeType,
          size: f.size,
          url: link.url,
          urlExpiresAt: link.expiresAt,
          open: () => this.files.store.open(f.storageKey),
        };
      }),
      sender: { type: message.senderType, id: message.senderId, name: sender?.name ?? null },
      externalId: message.externalId,
    };
  }

  /** Job handler: sends one pending message. */
  async runSend(job: {
    payload: Record<string, unknown>;
    attempts: number;
    maxAttempts: number;
  }): Promise<JobOutcome | undefined> {
    const message = await messageRepository.byId(this.deps.db, String(job.payload.messageId));
    if (message?.status !== 'pending') return undefined; // already sent or gone: never twice
    const session = (await sessionRepository.byId(this.deps.db, message.sessionId))!;
    const channel = await channelRepository.byId(this.deps.db, message.channelId);
    const provider = channel && this.host.providerFor(channel);
    if (!channel || !provider) {
      this.metrics?.sendFailed(channel?.type ?? 'unknown', 'CHANNEL_GONE', 'failed');
      return this.#failed(message, session, 'CHANNEL_GONE', 'the channel can no longer send');
    }
    try {
      const outbound = await this.#outboundMessage(message, session, provider.threads);
      const window = await this.#window(provider, channel, session.clientId);
      if (window) outbound.window = { tagged: window.tagged, lastClientMessageAt: window.last };
      const template = job.payload.template as MessageTemplate | undefined;
      if (template) outbound.template = template;
      const { externalId } = await provider.send(this.host.context(channel), outbound);
      await this.deps.uow.run((tx) => messageUpdates.sent(tx, message, session, externalId));
      return undefined;
    } catch (err) {
      const retry = (!(err instanceof ProviderError) || err.retryable) && job.attempts < job.maxAttempts;
      this.metrics?.sendFailed(
        provider.name,
        err instanceof ProviderError ? err.code : 'UNEXPECTED',
        retry ? 'retry' : 'failed',
      );
      if (!(err instanceof ProviderError)) throw err;
      if (retry) {
        return { retry: { error: `${err.code}: ${err.message}`, afterMs: err.opts.retryAfterMs } };
      }
      if (err.opts.clientUnreachable)
        await clientRepository.markUnreachable(this.deps.db, session.clientId, err.message);
      const outcome = await this.#failed(message, session, err.code, err.message);
      if (err.opts.channelError) await this.markChannelError(channel.id, `${err.code}: ${err.message}`);
      return outcome;
    }
  }

  async #failed(message: MessageRow, session: SessionRow, code: string, text: string): Promise<JobOutcome> {
    await this.deps.uow.run((tx) => messageUpdates.failed(tx, message, session, { code, message: text }));
    return { fail: { error: `${code}: ${text}` } };
  }

  /** Job handler: pushes an edit of a sent message to the messenger. */
  async runEdit(job: {
    payload: Record<string, unknown>;
    attempts: number;
    maxAttempts: number;
  }): Promise<JobOutcome | undefined> {
    const message = await messageRepository.byId(this.deps.db, String(job.payload.messageId));
    if (!message?.externalId)
      return message?.status === 'pending' ? { retry: { error: 'not sent yet' } } : undefined;
    const session = (await sessionRepository.byId(this.deps.db, message.sessionId))!;
    const channel = await channelRepository.byId(this.deps.db, message.channelId);
    const provider = channel && this.host.providerFor(channel);
    if (!channel || !provider?.edit) return { fail: { error: 'the channel cannot edit' } };
    try {
      await provider.edit(this.host.context(channel), {
        ...(await this.#outboundMessage(message, session, provider.threads)),
        externalId: message.externalId,
      });
      return undefined;
    } catch (err) {
      if (err instanceof ProviderError && err.retryable) {
        return { retry: { error: `${err.code}: ${err.message}`, afterMs: err.opts.retryAfterMs } };
      }
      return { fail: { error: (err as Error).message } };
    }
  }
}
