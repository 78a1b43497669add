/**
 * Line metrics, computed in SQL (never by loading rows): session counts, answer times, handling
 * time, per-operator rows, satisfaction ratings and the live queue of one line over a time range [from, to).
 *
 * Every query is parameterised and starts from an index:
 *   - sessions started in range      → sessions_queue_idx (line_id, …, started_at) / sessions_started_idx
 *   - sessions closed in range       → sessions_closed_at_idx (line_id, closed_at)
 *   - answers given in range         → answer_times_line_idx (line_id, answered_at)
 *   - ratings given in range       → session_ratings_line_idx (line_id, rated_at)
 *   - the queue now                  → sessions_waiting_idx (line_id, priority, queued_at) WHERE Waiting
 *
 * Spam is a state, not a flag: a session marked as spam is excluded through its current state, so
 * taking it out of spam (back to Closed) brings its counts and answer times back with no rewrite.
 * Soft-deleted sessions never count.
 *
 * Drivers differ in what they return for numbers (bigint/numeric as strings), so every value is
 * cast in SQL (`::int`, `::float8`) and read through `num`/`numOrNull`.
 */
import { type SQL, sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/client.ts';
import { SESSION_STATES, type SessionState } from '../domain/session/session.ts';

export interface MetricsRange {
  lineId: string;
  /** Inclusive. */
  from: Date;
  /** Exclusive. */
  to: Date;
  /** The present, for the live queue. */
  now: Date;
}

export interface TimeStats {
  count: number;
  avgSeconds: number | null;
}

export interface PercentileStats extends TimeStats {
  p90Seconds: number | null;
}

export interface OperatorMetricsRow {
  operatorId: string;
  name: string | null;
  sessionsHandled: number;
  firstAnswer: TimeStats;
  nextAnswer: TimeStats;
  handling: TimeStats;
}

/** Satisfaction ratings (CSAT, 1–5) given in range, of sessions that are not spam. */
export interface CsatStats {
  count: number;
  average: number | null;
  /** How many of each rating, "1" to "5". */
  byRating: Record<'1' | '2' | '3' | '4' | '5', number>;
}

export interface LineMetricsData {
  byState: Record<SessionState, number>;
  /** Started in range, not spam. */
  started: number;
  /** Closed in range, state Closed. */
  closed: number;
  /** Started in range, state MarkedAsSpam. */
  spam: number;
  firstAnswer: PercentileStats;
  nextAnswer: PercentileStats;
  handling: TimeStats;
  operators: OperatorMetricsRow[];
  queue: { length: number; longestWaitSeconds: number | null };
  csat: CsatStats;
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const ts = (d: Date): SQL => sql`${d.toISOString()}::timestamptz`;
/** Seconds, rounded to the millisecond (answer times are stored at that precision). */
const secs = (expr: SQL): SQL => sql`round((${expr})::numeric, 3)::float8`;

/** Answers (first and next) given on the line in range, on sessions that are not spam. */
function answersInRange(r: MetricsRange): SQL {
  return sql`SELECT a.operator_id, a.session_id, a.kind, a.seconds
    FROM answer_times a
    JOIN sessions s ON s.id = a.session_id
    WHERE a.line_id = ${r.lineId}
      AND a.answered_at >= ${ts(r.from)} AND a.answered_at < ${ts(r.to)}
      AND s.state <> 'MarkedAsSpam' AND s.deleted_at IS NULL`;
}

/**
 * Sessions of the line closed in range and still Closed (a spam session has closed_at too, and
 * gets it back as a Closed one when unmarked), with their handling time: from the first operator
 * assignment to the close; null when no operator ever had the session.
 */
function closedInRange(r: MetricsRange): SQL {
  return sql`SELECT s.id AS session_id, s.operator_id,
      CASE WHEN s.first_assigned_at IS NULL THEN NULL
        ELSE GREATEST(0, EXTRACT(EPOCH FROM (s.closed_at - s.first_assigned_at)))::float8 END AS seconds
    FROM sessions s
    WHERE s.line_id = ${r.lineId}
      AND s.closed_at >= ${ts(r.from)} AND s.closed_at < ${ts(r.to)}
      AND s.state = 'Closed' AND s.deleted_at IS NULL`;
}

function csatOf(rows: { rating: number; n: number }[]): CsatStats {
  const byRating: CsatStats['byRating'] = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
  let count = 0;
  let sum = 0;
  for (const row of rows) {
    const key = String(row.rating) as keyof CsatStats['byRating'];
    if (!Object.hasOwn(byRating, key)) continue;
    byRating[key] = num(row.n);
    count += num(row.n);
    sum += num(row.n) * Number(row.rating);
  }
  return { count, average: count === 0 ? null : Math.round((sum / count) * 100) / 100, byRating };
}

export const metricsRepository = {
  /**
   * All metrics of one line, read in one repeatable-read snapshot so the parts agree with each
   * other (the counts, the answers and the queue are of the same moment).
   */
  async lineMetrics(db: Db, r: MetricsRange): Promise<LineMetricsData> {
    return db.transaction(
      async (tx) => {
        const states = await queryRows<{ state: string; n: number }>(
          tx,
          sql`SELECT s.state, count(*)::int AS n
            FROM sessions s
            WHERE s.line_id = ${r.lineId}
              AND s.started_at >= ${ts(r.from)} AND s.started_at < ${ts(r.to)}
              AND s.deleted_at IS NULL
            GROUP BY s.state`,
        );

        const [closed] = await queryRows<{ closed: number; handled: number; avg: number | null }>(
          tx,
          sql`SELECT count(*)::int AS closed, count(c.seconds)::int AS handled, ${secs(sql`avg(c.seconds)`)} AS avg
            FROM (${closedInRange(r)}) c`,
        );

        const answers = await queryRows<{ kind: string; n: number; avg: number | null; p90: number | null }>(
          tx,
          sql`SELECT a.kind, count(*)::int AS n, ${secs(sql`avg(a.seconds)`)} AS avg,
              ${secs(sql`percentile_cont(0.9) WITHIN GROUP (ORDER BY a.seconds)`)} AS p90
            FROM (${answersInRange(r)}) a
            GROUP BY a.kind`,
        );

        const operators = await queryRows<{
          operator_id: string;
          name: string | null;
          handled: number;
          first_n: number;
          first_avg: number | null;
          next_n: number;
          next_avg: number | null;
          handling_n: number;
          handling_avg: number | null;
        }>(
          tx,
          sql`WITH ans AS (${answersInRange(r)}),
            closed AS (${closedInRange(r)}),
            touched AS (
              SELECT operator_id, session_id FROM ans WHERE operator_id IS NOT NULL
              UNION
              SELECT operator_id, session_id FROM closed WHERE operator_id IS NOT NULL
            ),
            handled AS (SELECT operator_id, count(*)::int AS n FROM touched GROUP BY operator_id),
            answered AS (
              SELECT operator_id,
                count(*) FILTER (WHERE kind = 'first')::int AS first_n,
                avg(seconds) FILTER (WHERE kind = 'first') AS first_avg,
                count(*) FILTER (WHERE kind = 'next')::int AS next_n,
                avg(seconds) FILTER (WHERE kind = 'next') AS next_avg
              FROM ans WHERE operator_id IS NOT NULL GROUP BY operator_id
            ),
            handling AS (
              SELECT operator_id, count(seconds)::int AS n, avg(seconds) AS avg
              FROM closed WHERE operator_id IS NOT NULL GROUP BY operator_id
            )
            SELECT h.operator_id, u.name, h.n AS handled,
              COALESCE(a.first_n, 0)::int AS first_n, ${secs(sql`a.first_avg`)} AS first_avg,
              COALESCE(a.next_n, 0)::int AS next_n, ${secs(sql`a.next_avg`)} AS next_avg,
              COALESCE(hd.n, 0)::int AS handling_n, ${secs(sql`hd.avg`)} AS handling_avg
            FROM handled h
            LEFT JOIN answered a ON a.operator_id = h.operator_id
            LEFT JOIN handling hd ON hd.operator_id = h.operator_id
            LEFT JOIN users u ON u.id = h.operator_id
            ORDER BY u.name NULLS LAST, h.operator_id`,
        );

        const [queue] = await queryRows<{ length: number; longest: number | null }>(
          tx,
          sql`SELECT count(*)::int AS length,
              ${secs(sql`CASE WHEN count(*) = 0 THEN NULL
                ELSE GREATEST(0, EXTRACT(EPOCH FROM (${ts(r.now)} - min(COALESCE(s.queued_at, s.started_at))))) END`)} AS longest
            FROM sessions s
            WHERE s.line_id = ${r.lineId} AND s.state = 'Waiting' AND s.deleted_at IS NULL`,
        );

        const ratings = await queryRows<{ rating: number; n: number }>(
          tx,
          sql`SELECT r.rating::int AS rating, count(*)::int AS n
            FROM session_ratings r
            JOIN sessions s ON s.id = r.session_id
            WHERE r.line_id = ${r.lineId}
              AND r.rated_at >= ${ts(r.from)} AND r.rated_at < ${ts(r.to)}
              AND s.state <> 'MarkedAsSpam' AND s.deleted_at IS NULL
            GROUP BY r.rating`,
        );

        const byState = Object.fromEntries(SESSION_STATES.map((s) => [s, 0])) as Record<SessionState, number>;
        for (const row of states) {
          if ((SESSION_STATES as readonly string[]).includes(row.state)) {
            byState[row.state as SessionState] = num(row.n);
          }
        }
        const answerStats = (kind: 'first' | 'next'): PercentileStats => {
          const row = answers.find((a) => a.kind === kind);
          return {
            count: num(row?.n),
            avgSeconds: numOrNull(row?.avg),
            p90Seconds: numOrNull(row?.p90),
          };
        };
        const started = SESSION_STATES.reduce((n, s) => n + byState[s], 0);
        return {
          byState,
          started: started - byState.MarkedAsSpam,
          closed: num(closed?.closed),
          spam: byState.MarkedAsSpam,
          firstAnswer: answerStats('first'),
          nextAnswer: answerStats('next'),
          handling: { count: num(closed?.handled), avgSeconds: numOrNull(closed?.avg) },
          operators: operators.map((o) => ({
            operatorId: o.operator_id,
            name: o.name,
            sessionsHandled: num(o.handled),
            firstAnswer: { count: num(o.first_n), avgSeconds: numOrNull(o.first_avg) },
            nextAnswer: { count: num(o.next_n), avgSeconds: numOrNull(o.next_avg) },
            handling: { count: num(o.handling_n), avgSeconds: numOrNull(o.handling_avg) },
          })),
          queue: { length: num(queue?.length), longestWaitSeconds: numOrNull(queue?.longest) },
          csat: csatOf(ratings),
        };
      },
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );
  },
};
