/**
 * Maps domain events (published after their transaction commits) to the operator live-event
 * catalogue and publishes them on the realtime streams: an operator's personal channel
 * `operator:<id>`, a line's `line:<id>` and a session's `session:<id>` (supervisors subscribe to these).
 * The publisher fans out across nodes (Redis) and keeps history for recovery.
 */
import type { Deps } from '../domain/deps.ts';
import type {
  DomainEvent,
  DomainEventMap,
  DomainEventName,
  DomainEventViews,
} from '../domain/events/domain-events.ts';
import { messageView } from '../domain/message/message.service.ts';
import { sessionRepository } from '../domain/session/session.repository.ts';
import { liveRepository } from './live.repository.ts';
import { channels, type OperatorEvent } from './operator-events.ts';
import { chatSession } from './session-payload.ts';

export interface Publisher {
  publish(channel: string, data: OperatorEvent): Promise<unknown>;
  /** The same event on many channels: a line-wide event reaches every operator of the line. */
  publishMany(channels: string[], data: OperatorEvent): Promise<unknown>;
}

type Handler<N extends DomainEventName> = (
  payload: DomainEventMap[N],
  event: DomainEvent<N>,
) => Promise<void>;

export class LiveNotifier {
  readonly #offs: (() => void)[] = [];
  readonly #staffReads = new Map<string, Promise<string[]>>();

  constructor(
    private readonly deps: Deps,
    private readonly publisher: Publisher,
    private readonly log?: { error(obj: object, msg: string): void },
  ) {}

  start(): void {
    this.#on('session.offered', (p) => this.#offered(p));
    this.#on('session.operatorNotFound', (p) => this.#notFound(p));
    this.#on('session.transitioned', (p) => this.#transitioned(p));
    this.#on('message.created', (p, e) =>
      this.#message(p.messageId, p.sessionId, 'chatMessageCreated', e.view),
    );
    this.#on('message.updated', (p) => this.#updated(p));
    this.#on('client.typing', (p) => this.#clientTyping(p));
    this.#on('client.presence', (p) => this.#presence(p));
    this.#on('user.loggedOut', (p) =>
      this.#to([p.userId], { event: 'operatorLoggedOut', data: { operatorId: p.userId } }),
    );
    this.#on('operator.statusChanged', (p) =>
      this.#to([p.userId], {
        event: 'operatorStatusChanged',
        data: { operatorId: p.userId, status: p.status, previous: p.previous },
      }),
    );
  }

  stop(): void {
    for (const off of this.#offs.splice(0)) off();
  }

  #on<N extends DomainEventName>(name: N, handler: Handler<N>): void {
    this.#offs.push(
      this.deps.bus.on(name, (e: DomainEvent<N>) => {
        handler(e.payload, e).catch((err) => this.log?.error({ err, event: name }, 'live event failed'));
      }),
    );
  }

  async #publish(channel: string, data: OperatorEvent): Promise<void> {
    await this.publisher.publish(channel, data);
  }

  async #to(operatorIds: (string | null | undefined)[], data: OperatorEvent): Promise<void> {
    const ids = new Set(operatorIds.filter((id): id is string => !!id));
    await this.publisher.publishMany([...ids].map(channels.operator), data);
  }

  async #offered(p: DomainEventMap['session.offered']): Promise<void> {
    const data = await chatSession(this.deps, p.sessionId);
    if (!data) return;
    await this.#to(p.operatorIds, { event: 'chatSessionStarted', data });
    await this.#publish(channels.line(p.lineId), { event: 'chatSessionStarted', data });
  }

  async #notFound(p: DomainEventMap['session.operatorNotFound']): Promise<void> {
    const event: OperatorEvent = {
      event: 'operatorNotFound',
      action: 'operatorNotFound',
      data: {
        botStatus: 'HELP',
        chatId: p.sessionId,
        operatorType: 'operator',
        sessionId: p.sessionId,
        status: 'Waiting',
      },
    };
    await this.#to(await this.#lineStaff(p.lineId), event);
    await this.#publish(channels.line(p.lineId), event);
  }

  /**
   * A line's staff. A pass that finds the line full tells every queued session at once: the events
   * of that burst share one read (a read in flight is reused, never a finished one).
   */
  #lineStaff(lineId: string): Promise<string[]> {
    let staff = this.#staffReads.get(lineId);
    if (!staff) {
      staff = liveRepository.lineStaff(this.deps.db, lineId).finally(() => this.#staffReads.delete(lineId));
      this.#staffReads.set(lineId, staff);
    }
    return staff;
  }

  async #transitioned(p: DomainEventMap['session.transitioned']): Promise<void> {
    const session = () => chatSession(this.deps, p.sessionId);
    const toOperator = p.to === 'AssignedToOperator' && p.operatorId !== p.previousOperatorId;
    const leftOperator =
      p.previousOperatorId &&
      p.from === 'AssignedToOperator' &&
      (p.to !== 'AssignedToOperator' || toOperator);
    if (leftOperator && p.to !== 'Closed' && p.to !== 'MarkedAsSpam') {
      const reason = p.to === 'AssignedToBot' ? 'bot' : p.to === 'Waiting' ? 'queue' : 'transfer';
      await this.#to([p.previousOperatorId], {
        event: 'chatSessionDeleted',
        data: { chatId: p.sessionId, sessionId: p.sessionId, reason },
      });
    }
    if (p.withdrawnFrom?.length) {
      // An offer (toAll) taken by someone else or ended: it leaves the other operators' desks.
      await this.#to(p.withdrawnFrom, {
        event: 'chatSessionDeleted',
        data: { chatId: p.sessionId, sessionId: p.sessionId, reason: 'offer' },
      });
    }
    if (p.listed) {
      // Out of the queue (taken, closed, given to a bot): it leaves the queue lists of those who were
      // told of it — the whole line when it was in "help" — and of the line's watchers.
      const event: OperatorEvent = {
        event: 'chatSessionDeleted',
        data: { chatId: p.sessionId, sessionId: p.sessionId, reason: 'dequeued' },
      };
      if (p.listed === 'help') {
        const told = new Set([p.operatorId, ...(p.withdrawnFrom ?? [])]);
        await this.#to(
          (await this.#lineStaff(p.lineId)).filter((id) => !told.has(id)),
          event,
        );
      }
      await this.#publish(channels.line(p.lineId), event);
    }
    if (toOperator && p.operatorId) {
      const [data, switched] = await Promise.all([session(), this.#fromBot(p)]);
      if (!data) return;
      // Routed straight to an operator: the session "started" for them; any assignment "adds" it.
      if (p.event === 'assignOperator' && p.actor.type === 'system')
        await this.#to([p.operatorId], { event: 'chatSessionStarted', data });
      await this.#to([p.operatorId], { event: 'chatSessionAdded', data });
      // The operator who receives a session a bot had (directly, or through the queue) is told so.
      if (switched) {
        const event: OperatorEvent = { event: 'chatSessionSwitchedFromBotToOperator', data };
        await this.#to([p.operatorId], event);
        await this.#publish(channels.line(p.lineId), event);
      }
    }
    if (p.to === 'Closed' && p.actor.type === 'client') {
      const [s, supervisors] = await Promise.all([
        sessionRepository.byId(this.deps.db, p.sessionId),
        liveRepository.lineSupervisors(this.deps.db, p.lineId),
      ]);
      const event: OperatorEvent = {
        event: 'sessionClosedByClient',
        data: {
          chatId: p.sessionId,
          sessionId: p.sessionId,
          closedAt: (s?.closedAt ?? new Date()).toISOString(),
        },
      };
      await this.#to([p.previousOperatorId, ...supervisors], event);
      await this.#publish(channels.session(p.sessionId), event);
    }
  }

  /**
   * Whether an operator receiving the session takes it from a bot: straight from the bot, or from
   * the queue a bot handed it to, before any operator had it since (see liveRepository.cameFromBot).
   */
  async #fromBot(p: DomainEventMap['session.transitioned']): Promise<boolean> {
    if (p.from === 'AssignedToBot') return true;
    if (p.from !== 'Waiting' || !p.operatorId) return false;
    return liveRepository.cameFromBot(this.deps.db, p.sessionId, p.event, p.operatorId);
  }

  /** Who follows a session's conversation: its operator, or the operators it is offered to. */
  async #followers(sessionId: string): Promise<{ ids: string[]; lineId: string } | null> {
    const s = await sessionRepository.byId(this.deps.db, sessionId);
    if (!s) return null;
    return { ids: s.operatorId ? [s.operatorId] : s.offeredTo, lineId: s.lineId };
  }

  async #message(
    messageId: string,
    sessionId: string,
    event: 'chatMessageCreated' | 'chatMessageEdited' | 'chatMessageStatusChanged',
    known?: DomainEventViews['message.created'],
  ): Promise<void> {
    // This runs for every message: what the writer handed over, else one read for both.
    const found = known ?? (await liveRepository.messageWithFollowers(this.deps.db, messageId));
    if (!found) return;
    const data = {
      event,
      data: { chatId: sessionId, sessionId, message: messageView(found.message) },
    } as OperatorEvent;
    await this.#to(found.followers, data);
    await this.#publish(channels.session(sessionId), data);
  }

  async #updated(p: DomainEventMap['message.updated']): Promise<void> {
    if (p.change === 'edited') return this.#message(p.messageId, p.sessionId, 'chatMessageEdited');
    if (p.messageId && (p.change === 'sent' || p.change === 'delivered' || p.change === 'failed')) {
      return this.#message(p.messageId, p.sessionId, 'chatMessageStatusChanged');
    }
    if (p.change !== 'read') return;
    const followers = await this.#followers(p.sessionId);
    if (!followers) return;
    const data: OperatorEvent = {
      event: 'chatMessageRead',
      data: { chatId: p.sessionId, sessionId: p.sessionId, readAt: this.deps.clock.now().toISOString() },
    };
    await this.#to(followers.ids, data);
    await this.#publish(channels.session(p.sessionId), data);
  }

  async #clientTyping(p: DomainEventMap['client.typing']): Promise<void> {
    if (!p.sessionId) return;
    const followers = await this.#followers(p.sessionId);
    if (!followers) return;
    const data: OperatorEvent = {
      event: 'typing',
      data: { chatId: p.sessionId, sessionId: p.sessionId, from: 'client', userId: p.clientId },
    };
    await this.#to(followers.ids, data);
    await this.#publish(channels.session(p.sessionId), data);
  }

  async #presence(p: DomainEventMap['client.presence']): Promise<void> {
    const followers = p.sessionId ? await this.#followers(p.sessionId) : null;
    const data: OperatorEvent = p.online
      ? { event: 'clientOnline', action: 'clientOnline', data: { id: p.clientId, sessionId: p.sessionId } }
      : { event: 'clientOffline', action: 'clientOffline', data: { id: p.clientId, sessionId: p.sessionId } };
    await this.#to(followers?.ids ?? [], data);
    if (p.sessionId) await this.#publish(channels.session(p.sessionId), data);
  }

  /** An operator typing in a session: told to supervisors watching it. */
  async operatorTyping(sessionId: string, operatorId: string): Promise<void> {
    await this.#publish(channels.session(sessionId), {
      event: 'typing',
      data: { chatId: sessionId, sessionId, from: 'operator', userId: operatorId },
    });
  }
}
