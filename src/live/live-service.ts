/**
 * Operators live: the realtime gateway bound to Omniline — who may connect (an operator API token),
 * their personal channel, who may watch a line or a session, presence (online while connected, with
 * a grace period), the operator RPCs (`typing`, `setStatus`), and the terminal disconnects the
 * catalogue asks for (operatorBlocked, chatUserExists).
 */

import { lineIdsOfUser } from '../domain/access/access.repository.ts';
import { channelRepository } from '../domain/channel/channel.repository.ts';
import { clientRepository } from '../domain/client/client.repository.ts';
import type { Deps } from '../domain/deps.ts';
import { operatorRepository } from '../domain/operator/operator.repository.ts';
import {
  OPERATOR_STATUSES,
  type OperatorStatus,
  type WorkspaceService,
} from '../domain/operator/workspace.service.ts';
import { sessionRepository } from '../domain/session/session.repository.ts';
import type { UserService } from '../domain/user/user.service.ts';
import type { Caller } from '../domain/user/user.ts';
import { AppError } from '../errors.ts';
import type { ProviderHost } from '../pipeline/provider-host.ts';
import {
  type Broker,
  Disconnects,
  ErrorCode,
  Gateway,
  type GatewayOptions,
  type GatewayUser,
  ProtocolError,
  type Target,
} from '../realtime/index.ts';
import type { ClientConnections, ClientIdentity } from './client-connections.ts';
import { LiveNotifier } from './notifier.ts';
import { channels, type OperatorEvent } from './operator-events.ts';

/** Application disconnect codes (4500–4999: terminal, the SDK does not reconnect). */
export const LIVE_CODES = {
  operatorBlocked: 4501,
  chatUserExists: 4502,
  /** The connection's token was revoked by a logout. */
  loggedOut: 4503,
  /** The user was deleted. */
  userDeleted: 4504,
} as const;

export interface LiveOptions {
  broker: Broker;
  users: UserService;
  workspace: WorkspaceService;
  host: ProviderHost;
  gateway?: Partial<GatewayOptions>;
  /** Clients who connect themselves (live-chat visitors): `connect.data.channel` names their channel. */
  clients?: ClientConnections;
  log?: { error(obj: object, msg: string): void; warn(obj: object, msg?: string): void };
}

const CLIENT_PREFIX = 'client:';
/** A connected client (a live-chat visitor), or null for an operator's connection. */
const clientOf = (user: GatewayUser): ClientIdentity | null =>
  user.userId.startsWith(CLIENT_PREFIX) ? (user.info as ClientIdentity) : null;
const callerOf = (user: GatewayUser): Caller => {
  if (clientOf(user)) throw new ProtocolError(ErrorCode.permissionDenied, 'operators only');
  return user.info as Caller;
};

/** History kept per stream (constants: asked for on every publication). */
const OPERATOR_HISTORY = { historySize: 100, historyTtlMs: 10 * 60_000 } as const;
const WATCHED_HISTORY = { historySize: 20, historyTtlMs: 2 * 60_000 } as const;

export class LiveService {
  readonly gateway: Gateway;
  readonly notifier: LiveNotifier;
  readonly #offs: (() => void)[] = [];

  constructor(
    private readonly deps: Deps,
    private readonly opts: LiveOptions,
  ) {
    this.gateway = new Gateway({
      broker: opts.broker,
      log: opts.log,
      authenticate: ({ token, data, origin }) => {
        const channelId = (data as { channel?: unknown } | undefined)?.channel;
        return typeof channelId === 'string'
          ? this.#authenticateClient(channelId, token, origin)
          : this.#authenticate(token);
      },
      serverSideChannels: (user) => {
        const who = clientOf(user);
        return [who ? channels.client(who.channelId, who.externalId) : channels.operator(user.userId)];
      },
      canSubscribe: (user, channel) => !clientOf(user) && this.#canWatch(callerOf(user), channel),
      onConnect: (user, client) => {
        const who = clientOf(user);
        if (who) return opts.clients?.connected(who);
        void this.#connected(user, client).catch((err) => opts.log?.error({ err }, 'connect hook'));
      },
      onDisconnect: (user) => {
        const who = clientOf(user);
        if (who) return opts.clients?.disconnected(who);
        void this.#disconnected(user).catch((err) => opts.log?.error({ err }, 'disconnect hook'));
      },
      onSend: (user, data) => this.#onSend(user, data),
      // Operators' own streams keep enough to recover a reconnect; watched line and session streams
      // (published on every message, mostly with nobody watching) keep little.
      historyOf: (channel) =>
        channel.startsWith('operator:') || channel.startsWith(CLIENT_PREFIX)
          ? OPERATOR_HISTORY
          : WATCHED_HISTORY,
      ...opts.gateway,
    });
    this.gateway.rpc('typing', (user, data) => {
      const who = clientOf(user);
      return who ? this.#clientTyping(who) : this.#typing(callerOf(user), data);
    });
    this.gateway.rpc('setStatus', (user, data) => this.#setStatus(callerOf(user), data));
    this.notifier = new LiveNotifier(deps, this, opts.log);
  }

  start(): void {
    this.notifier.start();
    this.opts.clients?.start();
    const bus = this.deps.bus;
    // A revoked token ends its live connections at once, on every node: the disconnect goes out as
    // soon as the revocation commits, ahead of anything published after it.
    const end = (what: string, work: () => Promise<void>) =>
      void work().catch((err) => this.opts.log?.error({ err }, what));
    this.#offs.push(
      bus.on('user.blocked', (e) => end('block', () => this.#blocked(e.payload.userId))),
      bus.on('user.loggedOut', (e) =>
        end('logout', () =>
          this.gateway.disconnect(
            { user: e.payload.userId, login: e.payload.tokenId },
            LIVE_CODES.loggedOut,
            'loggedOut',
          ),
        ),
      ),
      bus.on('user.deleted', (e) =>
        end('delete', () =>
          this.gateway.disconnect({ user: e.payload.userId }, LIVE_CODES.userDeleted, 'userDeleted'),
        ),
      ),
    );
  }

  async stop(): Promise<void> {
    for (const off of this.#offs.splice(0)) off();
    this.notifier.stop();
    this.opts.clients?.stop();
    await this.gateway.close();
  }

  /** Publisher for the notifier. */
  publish(channel: string, data: OperatorEvent): Promise<unknown> {
    return this.gateway.publish(channel, data);
  }

  publishMany(channels: string[], data: OperatorEvent): Promise<unknown> {
    return this.gateway.publishMany(channels, data);
  }

  async #authenticate(token: string | undefined): Promise<GatewayUser | null> {
    if (!token) return null;
    try {
      const caller = await this.opts.users.authenticate(token);
      if (caller.role === 'bot') return null;
      return { userId: caller.id, info: caller, login: caller.tokenId };
    } catch (err) {
      if (err instanceof AppError && (err.status === 401 || err.status === 403)) return null;
      throw err;
    }
  }

  /** A live-chat visitor's widget: the channel's provider checks the token and the page's origin. */
  async #authenticateClient(
    channelId: string,
    token: string | undefined,
    origin: string | undefined,
  ): Promise<GatewayUser | null> {
    if (!token || !this.opts.clients) return null;
    const who = await this.opts.clients.authenticate(channelId, token, origin);
    if (!who) return null;
    return { userId: `${CLIENT_PREFIX}${who.channelId}:${who.externalId}`, info: who };
  }

  async #clientTyping(who: ClientIdentity): Promise<Record<string, never>> {
    await this.opts.clients?.typing(who);
    return {};
  }

  /** Supervisors and admins watch the lines they serve and those lines' sessions. */
  async #canWatch(caller: Caller, channel: string): Promise<boolean> {
    if (channel === channels.operator(caller.id)) return true;
    if (caller.role === 'operator' || caller.role === 'bot') return false;
    const [kind, id] = channel.split(':');
    if (!id) return false;
    const lineId =
      kind === 'line'
        ? id
        : kind === 'session'
          ? (await sessionRepository.byId(this.deps.db, id).catch(() => undefined))?.lineId
          : null;
    if (!lineId) return false;
    return caller.role === 'admin' || (await lineIdsOfUser(this.deps.db, caller.id)).includes(lineId);
  }

  /**
   * Presence: a connecting operator counts as online. A workspace is one login (one API token): a
   * reload or a reconnect of the same login is the same workspace and is told nothing. A newer login
   * closes the older workspaces (chatUserExists), on every node; an older login connecting while a
   * newer one holds the workspace is closed itself. chatUserExists is a command to the connections
   * it closes, pushed to them alone: never to the new login, never in the channel's history.
   */
  async #connected(user: GatewayUser, client: string): Promise<void> {
    const login = callerOf(user).tokenId;
    const live = await operatorRepository.connectionOpened(this.deps.db, user.userId, login);
    if (!live.valid) {
      // Revoked (logout, block, deletion) while this connect was under way, after its token was read.
      const { code, reason } = Disconnects.invalidToken;
      await this.gateway.disconnect({ client }, code, reason);
      return;
    }
    const status = await this.opts.workspace.status(callerOf(user));
    if (status.status === 'offline') await this.opts.workspace.setStatus(user.userId, 'online');
    if (live.holder !== null && live.holder !== login) {
      await this.#superseded({ client }, user.userId, null);
    } else if (live.before > 0 && live.previous !== null && live.previous !== login) {
      await this.#superseded({ user: user.userId, exceptLogin: login }, user.userId, client);
    }
  }

  /** Tells the target's connections chatUserExists, then closes them (terminal). */
  async #superseded(target: Target, operatorId: string, by: string | null): Promise<void> {
    await this.gateway.push(target, channels.operator(operatorId), {
      event: 'chatUserExists',
      data: { operatorId, clientId: by },
    });
    await this.gateway.disconnect(target, LIVE_CODES.chatUserExists, 'chatUserExists');
  }

  async #disconnected(user: GatewayUser): Promise<void> {
    await operatorRepository.connectionClosed(this.deps.db, user.userId, this.deps.clock.now());
  }

  async #blocked(userId: string): Promise<void> {
    await this.gateway.publish(channels.operator(userId), {
      event: 'operatorBlocked',
      data: { operatorId: userId },
    });
    await this.gateway.disconnect({ user: userId }, LIVE_CODES.operatorBlocked, 'operatorBlocked');
  }

  async #onSend(user: GatewayUser, data: unknown): Promise<void> {
    if (clientOf(user)) return;
    if ((data as { event?: unknown })?.event === 'typing')
      await this.#typing(callerOf(user), data).catch(() => undefined);
  }

  /** The operator types in a session: the client's messenger shows it where it can; supervisors see it. */
  async #typing(caller: Caller, data: unknown): Promise<Record<string, never>> {
    const sessionId = (data as { sessionId?: unknown })?.sessionId;
    if (typeof sessionId !== 'string')
      throw new ProtocolError(ErrorCode.badRequest, 'typing needs {"sessionId"}');
    const session = await sessionRepository.byId(this.deps.db, sessionId).catch(() => undefined);
    if (!session || (session.operatorId !== caller.id && caller.role === 'operator')) {
      throw new ProtocolError(ErrorCode.permissionDenied, 'not your session');
    }
    await this.notifier.operatorTyping(session.id, caller.id);
    const channel = await channelRepository.byId(this.deps.db, session.channelId);
    const provider = channel && this.opts.host.providerFor(channel);
    const client = await clientRepository.byId(this.deps.db, session.clientId);
    if (channel && client && provider?.sendTyping) {
      await provider
        .sendTyping(this.opts.host.context(channel), { externalId: client.externalId })
        .catch(() => undefined);
    }
    return {};
  }

  async #setStatus(caller: Caller, data: unknown): Promise<{ status: string }> {
    const status = (data as { status?: unknown })?.status;
    if (!OPERATOR_STATUSES.includes(status as OperatorStatus)) {
      throw new ProtocolError(ErrorCode.badRequest, `status must be one of ${OPERATOR_STATUSES.join(', ')}`);
    }
    await this.opts.workspace.setStatus(caller.id, status as OperatorStatus);
    return { status: status as string };
  }
}
