/**
 * Clients who connect to the realtime gateway themselves — a live-chat visitor's widget — as opposed
 * to operators. The channel's provider checks their token (`authenticateClient`); they are
 * subscribed by the server to their own stream `client:<channelId>:<externalId>` and to nothing
 * else. What they do goes through the inbound pipeline like any messenger's events:
 *
 * - presence: the first connection of a client makes them online; the last one closing starts a
 *   grace period (a reload, a network blip), after which they are offline → clientOnline /
 *   clientOffline to the operators who see the session. Counted per node.
 * - typing: an RPC from the widget becomes the pipeline's `typing` event.
 *
 * And what happens to their conversation reaches them through the provider's `notify`: their own
 * stored messages (other tabs), the operator's read receipt, the assignment, the closing.
 */

import type { ChannelRow } from '../domain/channel/channel.repository.ts';
import type { ChannelCache } from '../domain/channel/channel-cache.ts';
import { clientRepository } from '../domain/client/client.repository.ts';
import type { Deps } from '../domain/deps.ts';
import { messageRepository } from '../domain/message/message.repository.ts';
import { messageView } from '../domain/message/message.service.ts';
import { sessionRepository } from '../domain/session/session.repository.ts';
import { userRepository } from '../domain/user/user.repository.ts';
import type { InboundPipeline } from '../pipeline/inbound.ts';
import type { ProviderHost } from '../pipeline/provider-host.ts';
import { type ChannelProvider, type ClientNotice, ProviderError } from '../providers/provider.ts';
import { Errors } from '../realtime/index.ts';

export interface ClientIdentity {
  channelId: string;
  externalId: string;
}

interface Presence {
  connections: number;
  offlineTimer: NodeJS.Timeout | null;
}

export interface ClientConnectionsOptions {
  /** How long a client stays online after their last connection closed (ms). */
  graceMs: number;
  /** A signed download link of a stored file (what a client's own attachments show). */
  fileUrl?: (fileId: string) => string;
  log?: { error(obj: object, msg: string): void };
}

export class ClientConnections {
  readonly #presence = new Map<string, Presence>();
  readonly #offs: (() => void)[] = [];

  constructor(
    private readonly deps: Deps,
    private readonly host: ProviderHost,
    private readonly channels: ChannelCache,
    private readonly inbound: InboundPipeline,
    private readonly opts: ClientConnectionsOptions,
  ) {}

  /** Who connects with this token to this channel; null refuses (3500); an expired token → error 109. */
  async authenticate(
    channelId: string,
    token: string,
    origin: string | undefined,
  ): Promise<ClientIdentity | null> {
    const channel = await this.channels.get(channelId);
    if (channel?.state !== 'active') return null;
    const provider = this.host.providerFor(channel);
    if (!provider?.authenticateClient) return null;
    try {
      const who = provider.authenticateClient(this.host.context(channel), { token, origin });
      return who ? { channelId, externalId: who.externalId } : null;
    } catch (err) {
      if (err instanceof ProviderError && err.code === 'TOKEN_EXPIRED') throw Errors.tokenExpired();
      throw err;
    }
  }

  connected(who: ClientIdentity): void {
    const key = keyOf(who);
    let p = this.#presence.get(key);
    if (!p) {
      p = { connections: 0, offlineTimer: null };
      this.#presence.set(key, p);
    }
    p.connections++;
    if (p.offlineTimer) {
      clearTimeout(p.offlineTimer); // back within the grace period: still online, nobody is told
      p.offlineTimer = null;
    } else if (p.connections === 1) this.#report(who, { kind: 'presence', online: true });
  }

  disconnected(who: ClientIdentity): void {
    const key = keyOf(who);
    const p = this.#presence.get(key);
    if (!p || --p.connections > 0) return;
    p.offlineTimer = setTimeout(() => {
      this.#presence.delete(key);
      this.#report(who, { kind: 'presence', online: false });
    }, this.opts.graceMs);
    p.offlineTimer.unref();
  }

  typing(who: ClientIdentity): Promise<void> {
    return this.#receive(who, { kind: 'typing' });
  }

  #report(who: ClientIdentity, event: { kind: 'presence'; online: boolean }): void {
    this.#receive(who, event).catch((err) => this.opts.log?.error({ err }, 'live chat: presence failed'));
  }

  async #receive(
    who: ClientIdentity,
    event: { kind: 'presence'; online: boolean } | { kind: 'typing' },
  ): Promise<void> {
    const channel = await this.channels.get(who.channelId);
    if (!channel) return;
    const from = { externalId: who.externalId };
    const timestamp = this.deps.clock.now();
    await this.inbound.receive(channel, [{ ...event, from, timestamp }]);
  }

  /** Tells clients of channels with `notify` what happened to their conversation. */
  start(): void {
    const bus = this.deps.bus;
    const run = (work: () => Promise<void>) =>
      void work().catch((err) => this.opts.log?.error({ err }, 'live chat: notice failed'));
    this.#offs.push(
      bus.on('message.created', (e) => {
        if (e.payload.direction !== 'incoming') return;
        run(async () => {
          const message =
            e.view?.message ?? (await messageRepository.byId(this.deps.db, e.payload.messageId));
          if (message)
            await this.#notify(message.sessionId, message.channelId, {
              type: 'received',
              sessionId: message.sessionId,
              message: messageView(message),
              fileUrls: message.attachments.map((a) =>
                a.fileId && this.opts.fileUrl ? this.opts.fileUrl(a.fileId) : null,
              ),
            });
        });
      }),
      bus.on('message.updated', (e) => {
        if (e.payload.change !== 'readByOperator') return;
        run(() =>
          this.#notify(e.payload.sessionId, null, {
            type: 'read',
            sessionId: e.payload.sessionId,
            readAt: this.deps.clock.now().toISOString(),
          }),
        );
      }),
      bus.on('session.transitioned', (e) => {
        const p = e.payload;
        if (p.to === 'Closed') {
          run(() =>
            this.#notify(p.sessionId, null, {
              type: 'closed',
              sessionId: p.sessionId,
              closedAt: this.deps.clock.now().toISOString(),
              byClient: p.actor.type === 'client',
            }),
          );
        } else if (p.to === 'AssignedToOperator' && p.operatorId && p.operatorId !== p.previousOperatorId) {
          const operatorId = p.operatorId;
          run(async () => {
            const user = await userRepository.byId(this.deps.db, operatorId);
            await this.#notify(p.sessionId, null, {
              type: 'assigned',
              sessionId: p.sessionId,
              operator: { id: operatorId, name: user?.name ?? null },
            });
          });
        }
      }),
    );
  }

  stop(): void {
    for (const off of this.#offs.splice(0)) off();
    for (const p of this.#presence.values()) if (p.offlineTimer) clearTimeout(p.offlineTimer);
    this.#presence.clear();
  }

  async #notify(sessionId: string, knownChannelId: string | null, notice: ClientNotice): Promise<void> {
    const shows = (p: ChannelProvider | null | undefined) =>
      !!p?.notify && (p.notices?.includes(notice.type) ?? true);
    let channel: ChannelRow | undefined;
    if (knownChannelId) {
      channel = await this.channels.get(knownChannelId);
      if (!channel || !shows(this.host.providerFor(channel))) return;
    }
    const session = await sessionRepository.byId(this.deps.db, sessionId);
    if (!session) return;
    channel ??= await this.channels.get(session.channelId);
    const provider = channel && this.host.providerFor(channel);
    if (!channel || !provider?.notify || !shows(provider)) return;
    const client = await clientRepository.byId(this.deps.db, session.clientId);
    if (!client) return;
    const shown =
      notice.type === 'read'
        ? {
            ...notice,
            lastExternalId: await messageRepository.lastIncomingExternalId(this.deps.db, sessionId),
          }
        : notice;
    await provider.notify(this.host.context(channel), { externalId: client.externalId }, shown);
  }
}

const keyOf = (who: ClientIdentity) => `${who.channelId}\n${who.externalId}`;
