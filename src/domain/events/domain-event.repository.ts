/**
 * The one writer of `domain_events`. Every statement that records events takes its SQL from here:
 * the unit of work's insert after a transaction's work, the session repository's one-statement
 * changes (an insert inside their CTE), and the batched ingest statement (its `e` CTE, which mirrors
 * `eventInsertFrom` with the payload built in SQL). Rows come back as `EventRow`s, published by
 * `UnitOfWork.published`.
 */
import type { PendingEvent } from './domain-events.ts';

/** A domain_events row as its insert returns it. */
export interface EventRow {
  id: string | number;
  created_at: string | Date;
}

const valueInserts: string[] = [];

export const domainEventRepository = {
  /** The insert of `n` events as VALUES; rows come back in VALUES order (ids ascend with it). */
  insertValues(n: number): string {
    let text = valueInserts[n];
    if (!text) {
      const rows = Array.from(
        { length: n },
        (_, i) => `($${3 * i + 1}, $${3 * i + 2}::uuid, $${3 * i + 3}::jsonb)`,
      );
      text = `INSERT INTO domain_events (name, aggregate_id, payload) VALUES ${rows.join(', ')} RETURNING id, created_at`;
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
    return `INSERT INTO domain_events (name, aggregate_id, payload)
   SELECT $${first}, id, $${first + 1}::jsonb FROM ${source} RETURNING id, created_at`;
  },

  /** The parameters of `insertFrom` for this event. */
  fromParams(event: PendingEvent): unknown[] {
    return [event.name, JSON.stringify(event.payload)];
  },
};
