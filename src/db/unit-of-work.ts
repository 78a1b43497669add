/**
 * One unit of work plus the domain events it produces: events are inserted with the work and
 * published on the bus only after it committed. This is the one publish path of stored events:
 * nothing else calls `EventBus.publish`. A unit of work is a transaction, or (`autocommit`) ONE
 * statement that writes its events itself (`tx.written`).
 */

import { domainEventRepository, type EventRow } from '../domain/events/domain-event.repository.ts';
import type {
  DomainEvent,
  DomainEventMap,
  DomainEventName,
  EventBus,
  PendingEvent,
} from '../domain/events/domain-events.ts';
import type { Db } from './client.ts';
import { hot } from './hot-sql.ts';

export interface Tx {
  db: Db;
  emit<N extends DomainEventName>(name: N, aggregateId: string | null, payload: DomainEventMap[N]): void;
  /**
   * A write whose result the work does not need: it is not waited for before COMMIT, so it goes
   * out with the statements after it. Should it fail in the database, the transaction rolls back and
   * `run` throws. Only a database error can stop the COMMIT already sent: a check that must undo the
   * transaction has to fail its statement (see omniline_raise), not throw in node afterwards.
   */
  defer(write: Promise<unknown>): void;
  /**
   * Events the work's own statements inserted (the batched ingest statement, a one-statement session
   * change): published with the emitted ones once the work is done.
   */
  written(events: readonly DomainEvent[]): void;
}

export interface RunOptions {
  /**
   * COMMIT without waiting for the WAL flush (synchronous_commit off for this transaction only).
   * For work that records a decision the system can take again — a routing pass — never for
   * anything acknowledged to a caller. PostgreSQL loses such a transaction only if the server itself
   * crashes within a few hundred milliseconds, and then whole (never in part); and any synchronous
   * COMMIT after it flushes the WAL up to its own record, so nothing durable can build on a lost one.
   */
  asyncCommit?: boolean;
  /**
   * The work is one statement that is its own unit of work: no BEGIN/COMMIT around it, and so no
   * `emit` — its events are inserted by the statement and handed over with `written`.
   */
  autocommit?: boolean;
}

const noEmit = () => {
  throw new Error('an autocommit unit of work writes its events itself (tx.written)');
};

export class UnitOfWork {
  constructor(
    readonly db: Db,
    private readonly bus: EventBus,
  ) {}

  async run<T>(work: (tx: Tx) => Promise<T>, opts: RunOptions = {}): Promise<T> {
    const written: DomainEvent[] = [];
    if (opts.autocommit) {
      const value = await work({
        db: this.db,
        emit: noEmit,
        defer: noEmit,
        written: (events) => written.push(...events),
      });
      this.#publish(written);
      return value;
    }
    const pending: PendingEvent[] = [];
    const events: { inserting: Promise<EventRow[]> | null } = {
      inserting: null,
    };
    const deferred: Promise<unknown>[] = [];
    const transaction = this.db.transaction(async (db) => {
      pending.length = 0;
      written.length = 0;
      deferred.length = 0;
      events.inserting = null;
      if (opts.asyncCommit) {
        // Goes out with the work's first statements: one connection runs them in order.
        const setting = hot(db)('SET LOCAL synchronous_commit TO off', []);
        setting.catch(() => undefined);
        deferred.push(setting);
      }
      const value = await work({
        db,
        emit: (name, aggregateId, payload) => pending.push({ name, aggregateId, payload } as PendingEvent),
        defer: (write) => {
          write.catch(() => undefined);
          deferred.push(write);
        },
        written: (events) => written.push(...events),
      });
      if (pending.length > 0) {
        // Not awaited here: the insert goes out together with COMMIT. Should it fail, the
        // transaction is aborted and its COMMIT rolls back, which fails the transaction too.
        events.inserting = hot(db)<EventRow>(
          domainEventRepository.insertValues(pending.length),
          domainEventRepository.valuesParams(pending),
        );
        events.inserting.catch(() => undefined);
      }
      return value;
    });
    let result: T;
    try {
      result = await transaction;
    } catch (err) {
      // A deferred write's or the events insert's own error, when that is what rolled back.
      await Promise.all(deferred);
      await events.inserting;
      throw err;
    }
    await Promise.all(deferred);
    // The work's own statements' events came first (their ids are lower).
    this.#publish([...written, ...domainEventRepository.stored(pending, (await events.inserting) ?? [])]);
    return result;
  }

  #publish(events: readonly DomainEvent[]): void {
    for (const event of events) this.bus.publish(event);
  }
}

export type { EventRow } from '../domain/events/domain-event.repository.ts';
