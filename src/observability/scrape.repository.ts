/**
 * The statements `GET /metrics` runs at scrape time: one grouped count per table, each starting from
 * an index, so a scrape costs the same few milliseconds whatever the history holds.
 *   - open sessions by line and state → sessions_queue_idx (line_id, state, …) WHERE deleted_at IS NULL
 *     (closed and spam sessions are history, not a gauge: they are never counted here);
 *   - unfinished jobs by kind → jobs_due_idx (… WHERE done_at IS NULL AND failed_at IS NULL).
 * Counts and ages are cast in SQL (`::int`, `::float8`): drivers differ in how they return numerics.
 */
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/client.ts';
import { OPEN_SESSION_STATES } from '../domain/session/session.ts';

export interface LineSessionsRow {
  line: string;
  state: string;
  sessions: number;
  /** Seconds the line's longest-waiting session has been in the queue (Waiting rows; 0 when none). */
  oldestWaitSeconds: number;
}

export interface PendingJobsRow {
  kind: string;
  pending: number;
  oldestAgeSeconds: number;
}

export const scrapeRepository = {
  /** Every live line × open state, with its count (0 included, so a line's series never vanish). */
  async openSessions(db: Db, now: Date): Promise<LineSessionsRow[]> {
    const states = sql.join(
      OPEN_SESSION_STATES.map((s) => sql`(${s})`),
      sql`, `,
    );
    const at = now.toISOString();
    return queryRows<LineSessionsRow>(
      db,
      sql`SELECT l.id::text AS line, st.state, count(s.id)::int AS sessions,
            coalesce(extract(epoch FROM (${at}::timestamptz - min(coalesce(s.queued_at, s.started_at)))), 0)::float8
              AS "oldestWaitSeconds"
          FROM lines l
          CROSS JOIN (VALUES ${states}) AS st(state)
          LEFT JOIN sessions s ON s.line_id = l.id AND s.state = st.state AND s.deleted_at IS NULL
          WHERE l.deleted_at IS NULL
          GROUP BY l.id, st.state`,
    );
  },

  /** Jobs not yet done nor failed, by kind, with the age of the oldest (by when it was enqueued). */
  async pendingJobs(db: Db): Promise<PendingJobsRow[]> {
    return queryRows<PendingJobsRow>(
      db,
      sql`SELECT kind, count(*)::int AS pending,
            extract(epoch FROM (now() - min(created_at)))::float8 AS "oldestAgeSeconds"
          FROM jobs WHERE done_at IS NULL AND failed_at IS NULL
          GROUP BY kind`,
    );
  },
};
