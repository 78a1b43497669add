import { randomUUID } from 'node:crypto';
import type { ActorRef } from '../../db/schema.ts';
import { sessions } from '../../db/schema.ts';
import type { Tx } from '../../db/unit-of-work.ts';
import { Conflict, Forbidden, InvalidField, NotFound, Unprocessable } from '../../errors.ts';
import { lineIdsOfUser, sessionScope } from '../access/access.repository.ts';
import { botRepository } from '../bot/bot.repository.ts';
import { type ChannelRow, channelRepository } from '../channel/channel.repository.ts';
import { accountKind, type ChannelType } from '../channel/channel.ts';
import type { ChannelCache } from '../channel/channel-cache.ts';
import type { ClientRow } from '../client/client.repository.ts';
import { clientRepository } from '../client/client.repository.ts';
import type { Deps } from '../deps.ts';
import type { PendingEvent } from '../events/domain-events.ts';
import { groupRepository } from '../group/group.repository.ts';
import { lineRepository } from '../line/line.repository.ts';
import { compileSearch, type SearchRequest } from '../search/filter.ts';
import { searchTable } from '../search/search.repository.ts';
import { userRepository } from '../user/user.repository.ts';
import type { Caller } from '../user/user.ts';
import { type HistoryEntry, type SessionRow, sessionRepository } from './session.repository.ts';
import { isOpen, type SessionState } from './session.ts';
import { historyView, type SessionView, sessionSearch, sessionView } from './session.view.ts';
import { InvalidTransition, type SessionEvent, transition } from './session-machine.ts';

export type AssignTarget = { operatorId: string } | { botId: string } | { groupId: string };

type Action = 'read' | 'assign' | 'close' | 'spam' | 'unspam';

/** History entries per page unless asked (`?limit`), and the most a page holds. */
export const DEFAULT_HISTORY_PAGE = 100;
export const MAX_HISTORY_PAGE = 500;

/** The caller as the actor of a change: their role (admin, supervisor, operator, bot) and id. */
export function actorOf(caller: Caller): ActorRef {
  return { type: caller.role, id: caller.id };
}

/** Sessions: opening (one open per client per channel), the lifecycle, and who may see and act. */
export class SessionService {
  constructor(
    private readonly deps: Deps,
    private readonly channels: ChannelCache,
  ) {}

  async search(request: SearchRequest, caller: Caller) {
    const page = await searchTable(
      this.deps.db,
      sessions,
      compileSearch(sessionSearch, request),
      sessionScope(caller),
    );
    return { items: page.items.map(sessionView), total: page.total };
  }

  async get(id: string, caller: Caller): Promise<SessionView> {
    return sessionView(await this.visible(id, caller));
  }

  /**
   * The session's history, oldest first, a page at a time: `cursor` is the `nextCursor` of the page
   * before (the id of its last entry); `nextCursor` is null on the last page.
   */
  async history(id: string, caller: Caller, opts: { limit?: number; cursor?: string } = {}) {
    await this.visible(id, caller);
    const limit = opts.limit ?? DEFAULT_HISTORY_PAGE;
    const afterId = opts.cursor === undefined ? null : Number(opts.cursor);
    if (afterId !== null && !Number.isSafeInteger(afterId))
      throw new InvalidField('querystring.cursor', 'must be a nextCursor of this list');
    const [rows, total] = await Promise.all([
      sessionRepository.history(this.deps.db, id, { afterId, limit: limit + 1 }),
      sessionRepository.historyCount(this.deps.db, id),
    ]);
    const items = rows.slice(0, limit).map(historyView);
    return { items, total, nextCursor: rows.length > limit ? String(items.at(-1)!.id) : null };
  }

  /** The session if the caller may see it; 404 otherwise (its existence is not disclosed). */
  async visible(id: string, caller: Caller): Promise<SessionRow> {
    return this.#seen(id, await sessionRepository.byId(this.deps.db, id), caller, this.deps.db);
  }

  /** `row` (session `id`) if `caller` may see it; 404 otherwise. */
  async #seen(id: string, row: SessionRow | undefined, caller: Caller, db: Deps['db']): Promise<SessionRow> {
    if (!row || row.deletedAt || !(await this.#sees(caller, row, db))) throw new NotFound('Session', id);
    return row;
  }

  async #sees(caller: Caller, row: SessionRow, db: Deps['db']): Promise<boolean> {
    if (caller.role === 'admin' || row.operatorId === caller.id) return true;
    if (caller.role === 'bot') return row.botId === caller.id && row.state === 'AssignedToBot';
    if (caller.role === 'operator' && row.state !== 'Waiting') return false;
    return (await lineIdsOfUser(db, caller.id)).includes(row.lineId);
  }

  #authorize(caller: Caller, row: SessionRow, action: Action, target?: AssignTarget): void {
    if (action === 'read') return;
    if (caller.role === 'bot') {
      // A bot replies, hands over (enqueue) and closes its own sessions; nothing else.
      if (action === 'close' || (action === 'assign' && !target)) return;
      throw new Forbidden('a bot may only close or hand over its sessions');
    }
    if (caller.role !== 'operator') return;
    if (action === 'unspam')
      throw new Forbidden('only supervisors and admins can take a session out of spam');
    const own = row.operatorId === caller.id;
    const takesFromQueue =
      action === 'assign' &&
      row.state === 'Waiting' &&
      target &&
      'operatorId' in target &&
      target.operatorId === caller.id;
    if (!own && !takesFromQueue)
      throw new Forbidden('operators act only on their own sessions', 'NOT_YOUR_SESSION');
  }

  /**
   * Finds the client's open session in the channel or opens a new one (Waiting unless told), chained
   * to the client's previous session. Safe under concurrency: the database allows one open session.
   */
  async openForClient(
    tx: Tx,
    args: {
      channel: ChannelRow;
      client: ClientRow;
      actor: ActorRef;
      state?: SessionState;
      operatorId?: string | null;
      /** The title of a new session (an e-mail subject); an open session keeps its own. */
      title?: string | null;
    },
  ): Promise<{ session: SessionRow; created: boolean }> {
    const { channel, client } = args;
    // The newest session of the chain is the open one when there is one (a new session opens only
    // when none is); otherwise the new one follows it.
    const previous = await sessionRepository.lastOfChain(tx.db, client.id, channel.id);
    if (previous && isOpen(previous.state as SessionState)) return { session: previous, created: false };
    const now = this.deps.clock.now();
    // A line with a bot gives new sessions to the bot first.
    const botId = args.state ? null : ((await lineRepository.byId(tx.db, channel.lineId))?.botId ?? null);
    const state = args.state ?? (botId ? 'AssignedToBot' : 'Waiting');
    const inserted = await sessionRepository.insertOpen(
      tx.db,
      ...newSession({ ...args, state, botId, previousSessionId: previous?.id ?? null, now }),
    );
    if (!inserted) {
      const winner = await sessionRepository.openFor(tx.db, client.id, channel.id);
      if (!winner)
        throw new Conflict('SESSION_OPEN_CONFLICT', 'the open session changed concurrently; retry');
      return { session: winner, created: false };
    }
    tx.emit('session.created', inserted.id, createdEvent(inserted.id, channel, client, state));
    return { session: inserted, created: true };
  }

  /**
   * `sessions.create(channel, account)`: an operator starts a conversation with a messenger account
   * (a login, phone or e-mail by channel type), finding or creating the client. Operators and
   * supervisors get the session assigned to themselves; an admin's waits in the queue.
   */
  async create(
    channelId: string,
    account: string,
    caller: Caller,
  ): Promise<{ session: SessionView; created: boolean }> {
    const channel = await this.channels.get(channelId);
    if (!channel) throw new NotFound('Channel', channelId);
    if (caller.role !== 'admin' && !(await lineIdsOfUser(this.deps.db, caller.id)).includes(channel.lineId)) {
      throw new NotFound('Channel', channelId);
    }
    if (channel.state !== 'active') {
      throw new Conflict('CHANNEL_NOT_ACTIVE', `the channel is ${channel.state}`, { state: channel.state });
    }
    const kind = accountKind(channel.type as ChannelType);
    const value = normalizeAccount(kind, account);
    if (!value)
      throw new Unprocessable(
        'INVALID_ACCOUNT',
        `"${account}" is not a valid ${kind} for a ${channel.type} channel`,
        { field: 'account' },
      );
    const assignSelf = caller.role !== 'admin';
    const open = {
      channel,
      actor: actorOf(caller),
      state: assignSelf ? ('AssignedToOperator' as const) : ('Waiting' as const),
      operatorId: assignSelf ? caller.id : null,
    };
    // A new account's client has no sessions: the client, its first session, the history entry and
    // the event are written by one statement. It finds a known account's client instead, and the
    // general way (in a transaction) goes on from there.
    const first = this.#firstSession(channel, open);
    const found = await this.deps.uow.run(
      async (tx) => {
        const found = await sessionRepository.openForNewAccount(
          tx.db,
          { field: kind, value },
          first.values,
          first.history,
          first.event,
        );
        if (found?.made) tx.written([found.event]);
        return found;
      },
      { autocommit: true },
    );
    if (found?.made) return { session: sessionView(found.session), created: true };
    const result = await this.deps.uow.run(async (tx) => {
      // None found nor made: another caller made this account's client just now, or a client has
      // the account as its external id under another account value.
      const client =
        found?.client ??
        (await clientRepository.byAccount(tx.db, channel.id, kind, value)) ??
        (await clientRepository.byExternalId(tx.db, channel.id, value));
      if (!client) throw new Conflict('CLIENT_CHANGED', 'the client changed concurrently; retry');
      return this.openForClient(tx, { ...open, client });
    });
    return { session: sessionView(result.session), created: result.created };
  }

  /** The row, history entry and event of a new client's first session (the client's id is new too). */
  #firstSession(
    channel: ChannelRow,
    open: { actor: ActorRef; state: SessionState; operatorId: string | null },
  ) {
    const id = randomUUID();
    const client = { id: randomUUID() };
    const [values, history] = newSession({
      ...open,
      channel,
      client,
      botId: null,
      previousSessionId: null,
      now: this.deps.clock.now(),
    });
    const event: PendingEvent<'session.created'> = {
      name: 'session.created',
      aggregateId: id,
      payload: createdEvent(id, channel, client, open.state),
    };
    return { values: { id, ...values }, history, event };
  }

  async assign(id: string, target: AssignTarget, caller: Caller): Promise<SessionView> {
    await this.#checkTarget(target);
    const event: SessionEvent =
      'operatorId' in target
        ? { type: 'assignOperator', operatorId: target.operatorId }
        : 'botId' in target
          ? { type: 'assignBot', botId: target.botId }
          : { type: 'assignGroup', groupId: target.groupId };
    return this.apply(id, event, caller, 'assign', target);
  }

  close(id: string, caller: Caller): Promise<SessionView> {
    return this.apply(id, { type: 'close', by: actorOf(caller) }, caller, 'close');
  }

  /**
   * The client ended the conversation (a provider's `closed` event): the session closes as the
   * client — `closedBy` and the history's actor are the client.
   */
  closeByClient(id: string, clientId: string, reason?: string | null): Promise<SessionView> {
    const by: ActorRef = { type: 'client', id: clientId };
    const event: SessionEvent = { type: 'close', by, ...(reason ? { reason } : {}) };
    return this.apply(id, event, null, 'close', undefined, by);
  }

  markAsSpam(id: string, caller: Caller): Promise<SessionView> {
    return this.apply(id, { type: 'markAsSpam', by: actorOf(caller) }, caller, 'spam');
  }

  unmarkAsSpam(id: string, caller: Caller): Promise<SessionView> {
    return this.apply(id, { type: 'unmarkAsSpam' }, caller, 'unspam');
  }

  /**
   * Applies one state-machine event, recording history and a domain event. The row is read, the
   * change decided, and written in ONE autocommit statement on condition that the row is still the
   * version read: no transaction is held open across round trips. A row that changed in between is
   * read and decided again; a row that keeps changing is then changed under its lock.
   */
  async apply(
    id: string,
    event: SessionEvent,
    caller: Caller | null,
    action: Action,
    target?: AssignTarget,
    /** Who acts when it is not the caller (a client, through their messenger). */
    as?: ActorRef,
  ) {
    const db = this.deps.db;
    const actor = as ?? (caller ? actorOf(caller) : SYSTEM_ACTOR);
    for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
      const read = await sessionRepository.byIdVersioned(db, id);
      const session = await this.#actable(id, read?.row, caller, action, target);
      const change = this.#decide(session, event, actor, await this.#factsFor(db, session, event));
      if (!change) return sessionView(session);
      const written = await this.deps.uow.run(
        async (tx) => {
          const stored = await sessionRepository.transitionIf(
            tx.db,
            id,
            read!.version,
            change.values,
            change.history,
            change.event,
          );
          if (stored) tx.written([stored]);
          return stored;
        },
        { autocommit: true },
      );
      if (written) return sessionView(change.next);
    }
    const written = await this.deps.uow.run(async (tx) => {
      const row = await sessionRepository.byId(tx.db, id, { forUpdate: true });
      const session = await this.#actable(id, row, caller, action, target, tx.db);
      // The write goes out with COMMIT; its row is read once the transaction is done.
      const next = this.#transition(tx, session, event, actor, await this.#factsFor(tx.db, session, event));
      tx.defer(next);
      return { next };
    });
    return sessionView(await written.next);
  }

  /** The session `caller` may act on by `action` (404 when unseen, 403 when not theirs to act on). */
  async #actable(
    id: string,
    row: SessionRow | undefined,
    caller: Caller | null,
    action: Action,
    target: AssignTarget | undefined,
    db = this.deps.db,
  ): Promise<SessionRow> {
    if (!caller) {
      if (!row) throw new NotFound('Session', id);
      return row;
    }
    const seen = await this.#seen(id, row, caller, db);
    this.#authorize(caller, seen, action, target);
    return seen;
  }

  /**
   * The transition itself, for callers that already hold the session's row lock. Except for the
   * spam events (which read the channel and the chain first), its domain event is emitted before
   * this returns, so the returned write may be left in flight with tx.defer.
   */
  async applyLocked(tx: Tx, session: SessionRow, event: SessionEvent, actor: ActorRef): Promise<SessionRow> {
    return this.#transition(tx, session, event, actor, await this.#factsFor(tx.db, session, event));
  }

  #factsFor(db: Deps['db'], session: SessionRow, event: SessionEvent): SpamFacts | Promise<SpamFacts> {
    return isSpamEvent(event) ? this.#spamFacts(db, session) : NO_SPAM_FACTS;
  }

  /** What only the spam rules read: the channel type and whether this is the chain's last session. */
  async #spamFacts(db: Deps['db'], session: SessionRow): Promise<SpamFacts> {
    const [channel, last] = await Promise.all([
      channelRepository.byId(db, session.channelId),
      sessionRepository.lastOfChain(db, session.clientId, session.channelId),
    ]);
    return { channelType: (channel?.type ?? 'api') as ChannelType, isLastInChain: last?.id === session.id };
  }

  /**
   * What `event` does to `session`: the new row (the row read plus the patch), the values to write,
   * the history entry and the domain event; null when nothing changes. An event the state machine
   * refuses throws.
   */
  #decide(session: SessionRow, event: SessionEvent, actor: ActorRef, facts: SpamFacts): Change | null {
    const result = transition(session as SessionRow & { state: SessionState }, event, {
      ...facts,
      now: this.deps.clock.now(),
    });
    if (result instanceof InvalidTransition) throw result;
    if (!result.changed) return null;
    const written = Object.fromEntries(Object.entries(result.patch).filter(([, v]) => v !== undefined));
    const next: SessionRow = { ...session, ...written, updatedAt: new Date() };
    return {
      next,
      values: { ...written, updatedAt: next.updatedAt },
      history: { event: event.type, fromState: session.state, actor, details: eventDetails(event) },
      event: {
        name: 'session.transitioned',
        aggregateId: session.id,
        payload: {
          sessionId: session.id,
          lineId: session.lineId,
          event: event.type,
          from: session.state,
          to: next.state,
          operatorId: next.operatorId,
          previousOperatorId: session.operatorId,
          botId: next.botId,
          operatorGroupId: next.operatorGroupId,
          actor,
          // Operators it was offered to who no longer have the offer (someone took it, it closed…).
          withdrawnFrom: session.offeredTo.filter(
            (id) => id !== next.operatorId && !next.offeredTo.includes(id),
          ),
          ...(session.state === 'Waiting' && next.state !== 'Waiting' && session.offeredAt
            ? { listed: session.offeredTo.length > 0 ? ('offered' as const) : ('help' as const) }
            : {}),
        },
      },
    };
  }

  /**
   * A change of a locked row. The domain event is emitted before this returns, so the returned
   * write may be left in flight with tx.defer.
   */
  #transition(
    tx: Tx,
    session: SessionRow,
    event: SessionEvent,
    actor: ActorRef,
    facts: SpamFacts,
  ): Promise<SessionRow> {
    let change: Change | null;
    try {
      change = this.#decide(session, event, actor, facts);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!change) return Promise.resolve(session);
    const { next, values, history, event: domainEvent } = change;
    tx.emit(domainEvent.name, domainEvent.aggregateId, domainEvent.payload);
    return sessionRepository.transition(tx.db, session.id, values, history).then(() => next);
  }

  async #checkTarget(target: AssignTarget): Promise<void> {
    const db = this.deps.db;
    if ('operatorId' in target) {
      const user = await userRepository.byId(db, target.operatorId);
      if (!user || user.deletedAt) {
        throw new Unprocessable('ASSIGNEE_NOT_FOUND', `no user ${target.operatorId}`, {
          field: 'operatorId',
        });
      }
      if (user.blocked)
        throw new Unprocessable('ASSIGNEE_BLOCKED', 'the operator is blocked', { field: 'operatorId' });
    } else if ('botId' in target) {
      if (!(await botRepository.byId(db, target.botId))) {
        throw new Unprocessable('TARGET_BOT_NOT_FOUND', `no bot ${target.botId}`, { field: 'botId' });
      }
    } else if (!(await groupRepository.byId(db, target.groupId))) {
      throw new Unprocessable('GROUP_NOT_FOUND', `no operator group ${target.groupId}`, { field: 'groupId' });
    }
  }
}

/** The row and history entry of a session being opened. */
function newSession(a: {
  channel: ChannelRow;
  client: Pick<ClientRow, 'id'>;
  actor: ActorRef;
  state: SessionState;
  operatorId?: string | null;
  botId: string | null;
  previousSessionId: string | null;
  now: Date;
  title?: string | null;
}): [typeof sessions.$inferInsert, HistoryEntry] {
  const operatorId = a.operatorId ?? null;
  return [
    {
      lineId: a.channel.lineId,
      channelId: a.channel.id,
      clientId: a.client.id,
      clientIds: [a.client.id],
      state: a.state,
      operatorId,
      botId: a.botId,
      operatorAssignedAt: operatorId ? a.now : null,
      acceptedAt: operatorId ? a.now : null,
      firstAssignedAt: operatorId ? a.now : null,
      queuedAt: a.state === 'Waiting' ? a.now : null,
      previousSessionId: a.previousSessionId,
      startedAt: a.now,
      ...(a.title ? { title: a.title } : {}),
    },
    { event: 'open', fromState: null, actor: a.actor, details: { previousSessionId: a.previousSessionId } },
  ];
}

function createdEvent(id: string, channel: ChannelRow, client: Pick<ClientRow, 'id'>, state: SessionState) {
  return { sessionId: id, lineId: channel.lineId, channelId: channel.id, clientId: client.id, state };
}

/** A decided transition (SessionService.#decide). */
interface Change {
  next: SessionRow;
  values: Partial<SessionRow>;
  history: HistoryEntry;
  event: PendingEvent<'session.transitioned'>;
}

/** Optimistic writes of a session tried before its row is locked instead (SessionService.apply). */
const OPTIMISTIC_ATTEMPTS = 3;

interface SpamFacts {
  channelType: ChannelType;
  isLastInChain: boolean;
}
const NO_SPAM_FACTS: SpamFacts = { channelType: 'api', isLastInChain: false };
const SYSTEM_ACTOR: ActorRef = { type: 'system', id: null };
const isSpamEvent = (e: SessionEvent) => e.type === 'markAsSpam' || e.type === 'unmarkAsSpam';

function eventDetails(event: SessionEvent): Record<string, unknown> {
  const { type: _type, ...rest } = event;
  return rest;
}

function normalizeAccount(kind: ReturnType<typeof accountKind>, account: string): string | null {
  const v = account.trim();
  switch (kind) {
    case 'username':
      return /^@?[A-Za-z0-9_.]{1,64}$/.test(v) ? v.replace(/^@/, '') : null;
    case 'phone': {
      const digits = v.replace(/[\s()+-]/g, '');
      return /^\d{5,16}$/.test(digits) ? digits : null;
    }
    case 'email':
      return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v) ? v.toLowerCase() : null;
    case 'externalId':
      return v.length > 0 && v.length <= 256 ? v : null;
  }
}
