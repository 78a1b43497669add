/**
 * The one writer of `domain_events`. Every statement that records events takes its SQL from here:
 * the unit of work's insert after a transaction's work (`insertValues`), the session repository's
 * one-statement changes (`insertFrom`, inside their CTE) and the batched ingest statement
 * (`insertSelect`, its `e` CTE). Rows come back as `EventRow`s; `stored` makes them the events the
 * unit of work publishes.
 */
import type { DomainEvent, PendingEvent } from './domain-events.ts';

/** A domain_events row as its insert returns it. */
export interface EventRow {
  id: string | number;
  aggregate_id?: string | null;
  created_at: string | Date;
}

const valueInserts: string[] = [];

/** Inserts the rows (name, aggregate_id, payload) of `select`, in its order. */
const insertSelect = (select: string) =>
  `INSERT INTO domain_events (name, aggregate_id, payload) ${select} RETURNING id, aggregate_id, created_at`;

export const domainEventRepository = {
  insertSelect,

  /** The insert of `n` events as VALUES; rows come back in VALUES order (ids ascend with it). */
  insertValues(n: number): string {
    let text = valueInserts[n];
    if (!text) {
      const rows = Array.from(
        { length: n },
        (_, i) => `($${3 * i + 1}, $${3 * i + 2}::uuid, $${3 * i + 3}::jsonb)`,
      );
      text = insertSelect(`VALUES ${rows.join(', ')}`);
      valueInserts[n] = text;
    }
    return text;
  },

  /** The parameters of `insertValues` for these events. */
  valuesParams(events: readonly PendingEvent[]): unknown[] {
    return events.flatMap((e) => [e.name, e.aggregateId, JSON.stringify(e.payload)]);
  },

  /** Inserts one event for each row (id) of the CTE `source`; its 2 parameters from `$first`. */
  insertFrom(source: string, first: number): string {
    return insertSelect(`SELECT $${first}, id, $${first + 1}::jsonb FROM ${source}`);
  },

  /** The parameters of `insertFrom` for this event. */
  fromParams(event: PendingEvent): unknown[] {
    return [event.name, JSON.stringify(event.payload)];
  },

  /** The stored events: `rows` are the insert's rows in `pending` order. */
  stored(pending: readonly PendingEvent[], rows: readonly EventRow[]): DomainEvent[] {
    return rows.map(
      (r, i) =>
        ({
          id: Number(r.id),
          name: pending[i]!.name,
          payload: pending[i]!.payload,
          createdAt: new Date(r.created_at),
        }) as DomainEvent,
    );
  },
};
