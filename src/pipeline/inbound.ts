/**
 * Receive (the guide's MessageManager.Receive / InternalReceive): unified events from a provider
 * become stored state. For a message, ONE transaction de-duplicates on (channel, external id),
 * finds or creates the client (and, on first contact, its contact), finds the open session or opens
 * a new Waiting one chained to the previous, stores the message, queues attachment downloads and
 * writes the domain events. The caller acknowledges the messenger only after it returns.
 */
import type { ActorRef } from '../db/schema.ts';
import type { Tx } from '../db/unit-of-work.ts';
import type { ChannelRow } from '../domain/channel/channel.repository.ts';
import type { ClientRow } from '../domain/client/client.repository.ts';
import type { ClientIntake } from '../domain/client/client-intake.ts';
import type { Deps } from '../domain/deps.ts';
import { messageRepository } from '../domain/message/message.repository.ts';
import { messageUpdates } from '../domain/message/message-updates.ts';
import { type RecordMessageInput, recordMessage, recordMessages } from '../domain/message/record-message.ts';
import { type SessionRow, sessionRepository } from '../domain/session/session.repository.ts';
import type { SessionService } from '../domain/session/session.service.ts';
import { isOpen, type SessionState } from '../domain/session/session.ts';
import { InvalidTransition } from '../domain/session/session-machine.ts';
import type { ExternalUser, InboundEvent } from '../providers/provider.ts';
import { InboundBatcher } from './inbound-batcher.ts';
import { sanitizeInboundEvent, sanitizeProfile } from './inbound-sanitize.ts';

export const ATTACHMENT_JOB = 'attachment.download';
/** Delivers a client message to the bot that has the session (see routing/bot-dispatcher.ts). */
export const BOT_DELIVERY_JOB = 'bot.deliver';

export interface ReceiveResult {
  stored: number;
  duplicates: number;
  updated: number;
  ignored: number;
}

/** Thrown inside a transaction to roll it back when a concurrent copy of the message won. */
class DuplicateMessage extends Error {}
/** Thrown inside a transaction to roll it back: an automated message with no open session to go to. */
class NoSessionForAutomated extends Error {}

type MessageEvent = Extract<InboundEvent, { kind: 'message' }>;

/** A client message to a bot's session is delivered to the bot (an automated one never is). */
const toBot = (session: SessionRow, event: MessageEvent) =>
  session.state === 'AssignedToBot' && !!session.botId && !event.automated;

type ProfileLookup = (externalUserId: string) => Promise<ExternalUser | null>;

export class InboundPipeline {
  readonly #batcher: InboundBatcher;
  /** How many messages took each way: the batched statement, or the general transaction. */
  readonly ways = { batched: 0, general: 0 };

  constructor(
    private readonly deps: Deps,
    private readonly sessions: SessionService,
    private readonly clients: ClientIntake,
    private readonly onJobsQueued: () => void = () => {},
  ) {
    this.#batcher = new InboundBatcher(deps.db);
  }

  /**
   * Stores a batch of events of one channel, each message in its own transaction. Storing is
   * idempotent, so a batch seen twice (a messenger's retry, a poll re-read after a crash) is harmless.
   */
  async receive(
    channel: ChannelRow,
    events: InboundEvent[],
    fetchProfile?: ProfileLookup,
  ): Promise<ReceiveResult> {
    const result: ReceiveResult = { stored: 0, duplicates: 0, updated: 0, ignored: 0 };
    for (const received of events) {
      const event = sanitizeInboundEvent(received);
      switch (event.kind) {
        case 'message': {
          const outcome = await this.#message(channel, event, fetchProfile);
          result[outcome === 'stored' ? 'stored' : outcome === 'duplicate' ? 'duplicates' : 'ignored']++;
          break;
        }
        case 'edited':
          (await this.#edited(channel, event)) ? result.updated++ : result.ignored++;
          break;
        case 'read':
          (await this.#read(channel, event)) ? result.updated++ : result.ignored++;
          break;
        case 'delivery':
          (await this.#delivery(channel, event)) ? result.updated++ : result.ignored++;
          break;
        case 'typing':
          (await this.#typing(channel, event)) ? result.updated++ : result.ignored++;
          break;
        case 'closed':
          (await this.#closed(channel, event)) ? result.updated++ : result.ignored++;
          break;
        case 'presence':
          (await this.#presence(channel, event)) ? result.updated++ : result.ignored++;
          break;
        case 'unsupported':
          result.ignored++;
          break;
      }
    }
    return result;
  }

  /**
   * A polled batch in ONE transaction: its messages in multi-row statements (recordMessages, the
   * general path's recipe) and `within` — the poller's cursor — in the same transaction, so a crash
   * leaves either the whole batch stored and the cursor past it, or neither. Clients, open sessions
   * and stored Message-IDs are read once for the batch; a repeat (a re-read folder) is skipped before
   * it could open a session. Events other than messages take the usual way, before the batch.
   */
  async receiveBatch(
    channel: ChannelRow,
    events: InboundEvent[],
    fetchProfile: ProfileLookup | undefined,
    within: (tx: Tx) => Promise<void>,
  ): Promise<ReceiveResult> {
    const messages: MessageEvent[] = [];
    const others: InboundEvent[] = [];
    let echoes = 0;
    for (const received of events) {
      const event = sanitizeInboundEvent(received);
      if (event.kind !== 'message') others.push(received);
      else if (event.echo) echoes++;
      else messages.push(event);
    }
    const result = await this.receive(channel, others, fetchProfile);
    result.duplicates += echoes;
    const senders = [...new Set(messages.map((m) => m.from.externalId))];
    const known = await this.clients.knownMany(channel, senders);
    const profiles = new Map<string, ExternalUser | null>();
    for (const id of senders) if (!known.has(id)) profiles.set(id, await this.#profile(id, fetchProfile));
    const counts = { stored: 0, duplicates: 0, ignored: 0, queued: false };
    await this.deps.uow.run(async (tx) => {
      Object.assign(counts, { stored: 0, duplicates: 0, ignored: 0, queued: false });
      const seen = await messageRepository.storedExternalIds(
        tx.db,
        channel.id,
        'incoming',
        messages.map((m) => m.externalMessageId),
      );
      const clients = new Map(known);
      const open = await sessionRepository.openForClients(
        tx.db,
        [...known.values()].map((c) => c.id),
        channel.id,
      );
      const inputs: RecordMessageInput[] = [];
      const batch: { event: MessageEvent; session: SessionRow }[] = [];
      for (const event of messages) {
        if (seen.has(event.externalMessageId)) {
          counts.duplicates++;
          continue;
        }
        seen.add(event.externalMessageId);
        let client = clients.get(event.from.externalId);
        if (!client) {
          const profile = profiles.get(event.from.externalId) ?? null;
          client = await this.clients.findOrCreate(tx, channel, event.from, profile);
          clients.set(event.from.externalId, client);
        }
        // Every client's open session was read above (a new client has none).
        const session = await this.#sessionFor(tx, channel, client, event, open.get(client.id) ?? null);
        if (!session) {
          counts.ignored++;
          continue;
        }
        if (session.clientId === client.id) open.set(client.id, session);
        inputs.push(this.#recordInput(channel, event, client, session));
        batch.push({ event, session });
      }
      const rows = await recordMessages(tx, inputs);
      for (const [i, row] of rows.entries()) {
        if (!row) {
          counts.duplicates++; // stored concurrently
          continue;
        }
        counts.stored++;
        const { event, session } = batch[i]!;
        if (toBot(session, event) || (event.attachments ?? []).some((a) => !a.fileId)) counts.queued = true;
      }
      await within(tx);
    });
    if (counts.queued) this.onJobsQueued();
    const wrote = new Set(messages.map((m) => m.from.externalId));
    for (const client of known.values()) if (wrote.has(client.externalId)) await this.#wrote(channel, client);
    result.stored += counts.stored;
    result.duplicates += counts.duplicates;
    result.ignored += counts.ignored;
    return result;
  }

  async #message(
    channel: ChannelRow,
    event: MessageEvent,
    fetchProfile: ProfileLookup | undefined,
  ): Promise<'stored' | 'duplicate' | 'ignored'> {
    if (event.echo) {
      // Our own send coming back: recognised by its external id, never stored twice.
      return 'duplicate';
    }
    const fast = await this.#fast(channel, event);
    if (fast === 'stored') return 'stored';
    if (fast === 'duplicate') return 'duplicate';
    this.ways.general++;
    const known = fast.clientId
      ? await this.clients.byId(fast.clientId)
      : await this.clients.known(channel, event.from.externalId);
    const profile = known ? null : await this.#profile(event.from.externalId, fetchProfile);
    let queued = (event.attachments ?? []).some((a) => !a.fileId);
    try {
      await this.deps.uow.run(async (tx) => {
        const client = known ?? (await this.clients.findOrCreate(tx, channel, event.from, profile));
        const session = await this.#sessionFor(tx, channel, client, event);
        if (!session) throw new NoSessionForAutomated();
        const message = await recordMessage(tx, this.#recordInput(channel, event, client, session));
        if (!message) throw new DuplicateMessage();
        if (toBot(session, event)) queued = true;
      });
    } catch (err) {
      if (err instanceof DuplicateMessage) return 'duplicate';
      if (err instanceof NoSessionForAutomated) return 'ignored';
      throw err;
    }
    if (queued) this.onJobsQueued();
    if (known) await this.#wrote(channel, known);
    return 'stored';
  }

  /**
   * The session a message goes to: the open session of the conversation it answers (e-mail
   * threading), else the client's open session, else a new one chained — except that an automated
   * message never opens a session.
   */
  async #sessionFor(
    tx: Tx,
    channel: ChannelRow,
    client: ClientRow,
    event: MessageEvent,
    /** The client's open session when the caller has read it (null: none), saving the reads. */
    open?: SessionRow | null,
  ): Promise<SessionRow | null> {
    const threadId = await messageRepository.sessionOfExternalIds(
      tx.db,
      channel.id,
      event.thread?.references ?? [],
    );
    const threaded = threadId ? await sessionRepository.byId(tx.db, threadId) : undefined;
    if (threaded && isOpen(threaded.state as SessionState)) return threaded;
    if (event.automated) {
      return (
        (open === undefined ? await sessionRepository.openFor(tx.db, client.id, channel.id) : open) ?? null
      );
    }
    if (open) return open;
    const actor: ActorRef = { type: 'client', id: client.id };
    const opened = await this.sessions.openForClient(tx, {
      channel,
      client,
      actor,
      title: event.thread?.title ?? null,
    });
    return opened.session;
  }

  /** What recordMessage stores for a client's message into its session, and the jobs it queues. */
  #recordInput(
    channel: ChannelRow,
    event: MessageEvent,
    client: ClientRow,
    session: SessionRow,
  ): RecordMessageInput {
    const attachments = event.attachments ?? [];
    return {
      session,
      at: this.deps.clock.now(),
      unlessDuplicate: true,
      values: {
        channelId: channel.id,
        direction: 'incoming',
        type: event.type,
        text: event.text ?? null,
        attachments: attachments.map((a) => ({
          fileId: a.fileId ?? null,
          name: a.name ?? null,
          mimeType: a.mimeType ?? null,
          size: a.size ?? null,
          ref: a.fileId ? null : a.ref,
        })),
        senderType: 'client',
        senderId: client.id,
        externalId: event.externalMessageId,
        status: 'delivered',
      },
      touch: { byOperator: false },
      // Files already in the store (a live-chat upload).
      files: attachments.flatMap((a) => (a.fileId ? [a.fileId] : [])),
      jobs: (m) => [
        ...(toBot(session, event)
          ? [{ kind: BOT_DELIVERY_JOB, payload: { messageId: m.id, botId: session.botId }, maxAttempts: 3 }]
          : []),
        ...attachments.flatMap((a, index) =>
          a.fileId ? [] : [{ kind: ATTACHMENT_JOB, payload: { messageId: m.id, index }, maxAttempts: 8 }],
        ),
      ],
    };
  }

  /** After a known client's messages are stored: they are reachable again, and seen. */
  async #wrote(channel: ChannelRow, known: ClientRow): Promise<void> {
    // They wrote: the messenger takes our answers again (Viber re-subscribes a writing user).
    if (known.unreachable) await this.clients.markReachable(known.id);
    if (!known.online) await this.#seen(channel, known.id);
  }

  /** The one-statement path for the common case (see message-batch.repository.ts). */
  async #fast(
    channel: ChannelRow,
    event: Extract<InboundEvent, { kind: 'message' }>,
  ): Promise<'stored' | 'duplicate' | { clientId: string | null }> {
    if ((event.attachments?.length ?? 0) > 0 || event.thread || event.automated) return { clientId: null };
    const message = {
      channelId: channel.id,
      externalUserId: event.from.externalId,
      type: event.type,
      text: event.text ?? null,
      externalMessageId: event.externalMessageId,
      at: this.deps.clock.now(),
    };
    // The batched statement is its own unit of work: its event is published like any other.
    const result = await this.deps.uow.run(
      async (tx) => {
        const result = await this.#batcher.write(message);
        if (result.kind === 'stored') tx.written([result.event]);
        return result;
      },
      { autocommit: true },
    );
    if (result.kind === 'general') return { clientId: result.clientId };
    if (result.kind === 'duplicate') return 'duplicate';
    this.ways.batched++;
    if (!result.clientOnline) await this.#seen(channel, result.clientId);
    return 'stored';
  }

  /** Marks the client active, telling operators when they come back online. */
  #seen(channel: ChannelRow, clientId: string): Promise<void> {
    return this.clients.setPresence(channel, clientId, true);
  }

  async #profile(externalId: string, fetchProfile: ProfileLookup | undefined): Promise<ExternalUser | null> {
    if (!fetchProfile) return null;
    try {
      return sanitizeProfile(await fetchProfile(externalId));
    } catch {
      return null; // the client is still created, under a placeholder name
    }
  }

  async #edited(channel: ChannelRow, event: Extract<InboundEvent, { kind: 'edited' }>): Promise<boolean> {
    return this.deps.uow.run(async (tx) => {
      const message = await messageRepository.byExternalId(
        tx.db,
        channel.id,
        'incoming',
        event.externalMessageId,
      );
      if (!message) return false;
      await messageUpdates.edited(tx, message, { text: event.text, at: event.timestamp });
      return true;
    });
  }

  async #read(channel: ChannelRow, event: Extract<InboundEvent, { kind: 'read' }>): Promise<boolean> {
    const client = await this.clients.known(channel, event.from.externalId);
    if (!client) return false;
    await this.#seen(channel, client.id);
    return this.deps.uow.run(async (tx) => {
      const session = await sessionRepository.lastOfChain(tx.db, client.id, channel.id);
      if (!session) return false;
      let upTo: number | null = null;
      if (event.upToExternalMessageId) {
        const target = await messageRepository.byExternalId(
          tx.db,
          channel.id,
          'outgoing',
          event.upToExternalMessageId,
        );
        if (!target || target.sessionId !== session.id) return false;
        upTo = target.seq;
      }
      await messageUpdates.readByClient(tx, session, upTo, event.timestamp, {
        createdUpTo: event.upToTime ?? null,
      });
      return true;
    });
  }

  async #delivery(channel: ChannelRow, event: Extract<InboundEvent, { kind: 'delivery' }>): Promise<boolean> {
    const read = await this.deps.uow.run(async (tx) => {
      const message = await messageRepository.byExternalId(
        tx.db,
        channel.id,
        'outgoing',
        event.externalMessageId,
      );
      if (!message) return null;
      const applied = await messageUpdates.delivery(tx, message, {
        status: event.status,
        at: event.timestamp,
        error: event.error,
      });
      return applied ? message : null;
    });
    // A read receipt is the client's activity (WhatsApp, Messenger): it counts as presence.
    if (read && event.status === 'read') {
      const session = await sessionRepository.byId(this.deps.db, read.sessionId);
      if (session) await this.#seen(channel, session.clientId);
    }
    return !!read;
  }

  async #typing(channel: ChannelRow, event: Extract<InboundEvent, { kind: 'typing' }>): Promise<boolean> {
    const client = await this.clients.known(channel, event.from.externalId);
    if (!client) return false;
    await this.#seen(channel, client.id);
    await this.clients.typing(channel, client.id);
    return true;
  }

  /** The client ended the conversation: their open session closes, as the client. */
  async #closed(channel: ChannelRow, event: Extract<InboundEvent, { kind: 'closed' }>): Promise<boolean> {
    const client = await this.clients.known(channel, event.from.externalId);
    if (!client) return false;
    if (event.unreachable && !client.unreachable) {
      await this.clients.markUnreachable(
        client.id,
        event.reason ?? 'the client stopped taking messages from this channel',
      );
    }
    const session = await sessionRepository.openFor(this.deps.db, client.id, channel.id);
    if (!session) return event.unreachable === true;
    try {
      await this.sessions.closeByClient(session.id, client.id, event.reason);
    } catch (err) {
      if (err instanceof InvalidTransition) return false; // closed meanwhile
      throw err;
    }
    return true;
  }

  /** Explicit presence from the messenger. */
  async #presence(channel: ChannelRow, event: Extract<InboundEvent, { kind: 'presence' }>): Promise<boolean> {
    const client = await this.clients.known(channel, event.from.externalId);
    if (!client) return false;
    await this.clients.setPresence(channel, client.id, event.online);
    return true;
  }
}
