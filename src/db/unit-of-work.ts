/**
 * One transaction plus the domain events it produces: events are inserted in the same transaction
 * and published on the bus only after the commit.
 */
import type {
  DomainEvent,
  DomainEventMap,
  DomainEventName,
  EventBus,
  PendingEvent,
} from '../domain/events/domain-events.ts';
import type { Db } from './client.ts';
import { domainEvents } from './schema.ts';

export interface Tx {
  db: Db;
  emit<N extends DomainEventName>(name: N, aggregateId: string | null, payload: DomainEventMap[N]): void;
}

export class UnitOfWork {
  constructor(
    readonly db: Db,
    private readonly bus: EventBus,
  ) {}

  async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const pending: PendingEvent[] = [];
    let written: DomainEvent[] = [];
    const result = await this.db.transaction(async (db) => {
      pending.length = 0;
      const value = await work({
        db,
        emit: (name, aggregateId, payload) => pending.push({ name, aggregateId, payload } as PendingEvent),
      });
      if (pending.length > 0) {
        const rows = await db
          .insert(domainEvents)
          .values(pending.map((e) => ({ name: e.name, aggregateId: e.aggregateId, payload: e.payload })))
          .returning();
        written = rows.map(
          (r) =>
            ({
              id: r.id,
              name: r.name as DomainEventName,
              payload: r.payload,
              createdAt: r.createdAt,
            }) as DomainEvent,
        );
      }
      return value;
    });
    for (const event of written) this.bus.publish(event);
    return result;
  }
}
