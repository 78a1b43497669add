/**
 * Domain events: dotted names in one typed map. They are written to `domain_events` in the
 * transaction that made the change and published on the bus after that transaction commits, so a
 * subscriber never sees a change that was rolled back.
 */
import { EventEmitter } from 'node:events';
import type { MessageRow } from '../message/message.repository.ts';

export interface DomainEventMap {
  'session.created': {
    sessionId: string;
    lineId: string;
    channelId: string;
    clientId: string;
    state: string;
  };
  'session.transitioned': {
    sessionId: string;
    lineId: string;
    event: string;
    from: string;
    to: string;
    operatorId: string | null;
    previousOperatorId: string | null;
    botId: string | null;
    operatorGroupId: string | null;
    actor: { type: string; id: string | null };
    /** Operators the session was offered to whose offer this change ended (optional in stored events). */
    withdrawnFrom?: string[];
    /**
     * How the line's desks had the session listed when this change took it out of the queue: offered
     * (to `withdrawnFrom` and the line channel), or in "help" (every operator of the line was told
     * nobody took it). Absent when it leaves a stay nobody was told of, or does not leave the queue.
     */
    listed?: 'offered' | 'help';
  };
  'message.created': {
    messageId: string;
    sessionId: string;
    lineId: string;
    direction: string;
    senderType: string;
  };
  'message.updated': { messageId: string; sessionId: string; lineId: string; change: string };
  'client.updated': { clientId: string; channelId: string };
  'client.typing': { clientId: string; channelId: string; sessionId: string | null };
  /** A client came online (wrote, typed, read) or went quiet past the presence timeout. */
  'client.presence': { clientId: string; sessionId: string | null; online: boolean };
  'channel.stateChanged': {
    channelId: string;
    lineId: string;
    from: string;
    to: string;
    reason: string | null;
  };
  /** A channel's name, source, settings or deletion changed (its state has its own event). */
  'channel.updated': { channelId: string; lineId: string };
  'contact.merged': { contactId: string; mergedId: string; relinkedClients: number };
  'user.blocked': { userId: string };
  /** A logout: the token (API token id) it revoked. */
  'user.loggedOut': { userId: string; tokenId: string };
  /** A user was deleted (every token revoked). */
  'user.deleted': { userId: string };
  'operator.statusChanged': { userId: string; status: string; previous: string };
  /** A Waiting session was offered to operators (the first to accept takes it). */
  'session.offered': { sessionId: string; lineId: string; operatorIds: string[] };
  /**
   * Routing found nobody for a Waiting session: it stays in the queue ("help"). `noneAvailable`:
   * nobody able to take it (once per stay in the queue); `noneAccepted`: everyone able to take it
   * let it pass, and a new round of offers starts (once per round).
   */
  'session.operatorNotFound': { sessionId: string; lineId: string; reason: 'noneAvailable' | 'noneAccepted' };
}

export type DomainEventName = keyof DomainEventMap;

export interface DomainEvent<N extends DomainEventName = DomainEventName> {
  id: number;
  name: N;
  payload: DomainEventMap[N];
  createdAt: Date;
  /** What the writer already held, for in-process subscribers to skip a read; never stored. */
  view?: N extends keyof DomainEventViews ? DomainEventViews[N] : never;
}

export interface DomainEventViews {
  /** The stored message, and who follows its session (its operator, or those it is offered to). */
  'message.created': { message: MessageRow; followers: string[] };
}

export interface PendingEvent<N extends DomainEventName = DomainEventName> {
  name: N;
  aggregateId: string | null;
  payload: DomainEventMap[N];
}

/** In-process bus. A cross-node transport (Redis) can subscribe to '*' and re-emit elsewhere. */
export class EventBus {
  readonly #emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  on<N extends DomainEventName>(name: N | '*', listener: (event: DomainEvent<N>) => void): () => void {
    const wrapped = (e: DomainEvent<N>) => {
      try {
        listener(e);
      } catch (err) {
        this.#emitter.emit('error', err);
      }
    };
    this.#emitter.on(name, wrapped);
    return () => this.#emitter.off(name, wrapped);
  }

  onError(listener: (err: unknown) => void): void {
    this.#emitter.on('error', listener);
  }

  /** Publishes an event that is not worth a database row (typing): id 0, this node only. */
  publishEphemeral<N extends DomainEventName>(name: N, payload: DomainEventMap[N]): void {
    this.publish({ id: 0, name, payload, createdAt: new Date() } as DomainEvent);
  }

  publish(event: DomainEvent): void {
    this.#emitter.emit(event.name, event);
    this.#emitter.emit('*', event);
  }
}
