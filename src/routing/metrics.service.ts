/**
 * Line metrics (`GET /api/v1/lines/:id/metrics?from&to`).
 *
 * Definitions — every count and time is of the line's sessions, over the range [from, to):
 *   - range: `to` defaults to now (the clock), `from` to 24 h before `to`; `from` must be before
 *     `to` and at most 366 days before it (400 naming `querystring.from` otherwise).
 *   - sessions.byState: sessions started in range, counted by their current state (spam included,
 *     as its own MarkedAsSpam count).
 *   - sessions.new: started in range and not spam. sessions.spam: started in range, MarkedAsSpam.
 *   - sessions.closed: closed in range (closed_at) and Closed — not spam.
 *   - firstAnswer / nextAnswer: the answers recorded in answer_times (one per operator answer: the
 *     first measured from the session's start, each next one from the client message that started
 *     the wait) whose answered_at is in range, on sessions that are not spam: count, average and
 *     90th percentile (percentile_cont, interpolated) in seconds.
 *   - handling: sessions closed in range (Closed) that had an operator: seconds from the first
 *     operator assignment (first_assigned_at) to closed_at; count and average.
 *   - operators: one row per operator with activity in range, where activity — and
 *     `sessionsHandled`, the number of distinct sessions — is: the operator gave an answer in range
 *     on the session, or the session was closed in range while assigned to them. Their
 *     firstAnswer/nextAnswer are the answers they gave; their handling is that of the sessions closed
 *     in range while assigned to them (the whole handling time of the session, from its first
 *     assignment, is credited to the operator who held it at the close).
 *   - queue: now (the clock, not the range): `length` is the line's Waiting sessions,
 *     `longestWaitSeconds` now − the earliest queued_at among them (null when nobody waits).
 *
 * Spam sessions are excluded through their state, so unmarking one (back to Closed) returns it to
 * every metric. Soft-deleted sessions never count. Averages with no data are null.
 * Times are in seconds, rounded to the millisecond.
 */
import { lineIdsOfUser } from '../domain/access/access.repository.ts';
import type { Deps } from '../domain/deps.ts';
import { lineRepository } from '../domain/line/line.repository.ts';
import type { SessionState } from '../domain/session/session.ts';
import type { Caller } from '../domain/user/user.ts';
import { Forbidden, InvalidField, NotFound } from '../errors.ts';
import {
  type CsatStats,
  metricsRepository,
  type OperatorMetricsRow,
  type PercentileStats,
  type TimeStats,
} from './metrics.repository.ts';

export const DEFAULT_METRICS_SPAN_MS = 24 * 60 * 60 * 1000;
export const MAX_METRICS_SPAN_DAYS = 366;
const MAX_SPAN_MS = MAX_METRICS_SPAN_DAYS * 24 * 60 * 60 * 1000;

export interface MetricsQuery {
  /** ISO timestamps (already format-checked by the route) or dates. */
  from?: string | Date;
  to?: string | Date;
}

export interface LineMetrics {
  lineId: string;
  from: string;
  to: string;
  /** The moment the queue was read. */
  now: string;
  sessions: {
    byState: Record<SessionState, number>;
    new: number;
    closed: number;
    spam: number;
  };
  firstAnswer: PercentileStats;
  nextAnswer: PercentileStats;
  handling: TimeStats;
  operators: OperatorMetricsRow[];
  queue: { length: number; longestWaitSeconds: number | null };
  csat: CsatStats;
}

function parseTime(value: string | Date | undefined, field: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new InvalidField(field, 'must be an ISO 8601 date-time');
  return d;
}

/** The range [from, to) of a query: defaults applied, order and span checked. */
export function resolveMetricsRange(query: MetricsQuery, now: Date): { from: Date; to: Date } {
  const to = parseTime(query.to, 'querystring.to') ?? now;
  const from = parseTime(query.from, 'querystring.from') ?? new Date(to.getTime() - DEFAULT_METRICS_SPAN_MS);
  if (from.getTime() >= to.getTime()) {
    throw new InvalidField('querystring.from', `must be before to (${to.toISOString()})`);
  }
  if (to.getTime() - from.getTime() > MAX_SPAN_MS) {
    throw new InvalidField('querystring.from', `must be at most ${MAX_METRICS_SPAN_DAYS} days before to`);
  }
  return { from, to };
}

export class MetricsService {
  constructor(private readonly deps: Deps) {}

  /**
   * The metrics of a line. Admins see any line; supervisors only the lines they serve (404 for
   * others, not disclosing them); operators and bots are refused.
   */
  async line(lineId: string, query: MetricsQuery, caller: Caller): Promise<LineMetrics> {
    if (caller.role !== 'admin' && caller.role !== 'supervisor') {
      throw new Forbidden('requires role admin or supervisor');
    }
    const now = this.deps.clock.now();
    const { from, to } = resolveMetricsRange(query, now);
    const db = this.deps.db;
    const line = await lineRepository.byId(db, lineId);
    if (!line || line.deletedAt) throw new NotFound('Line', lineId);
    if (caller.role === 'supervisor' && !(await lineIdsOfUser(db, caller.id)).includes(lineId)) {
      throw new NotFound('Line', lineId);
    }
    const m = await metricsRepository.lineMetrics(db, { lineId, from, to, now });
    return {
      lineId,
      from: from.toISOString(),
      to: to.toISOString(),
      now: now.toISOString(),
      sessions: { byState: m.byState, new: m.started, closed: m.closed, spam: m.spam },
      firstAnswer: m.firstAnswer,
      nextAnswer: m.nextAnswer,
      handling: m.handling,
      operators: m.operators,
      queue: m.queue,
      csat: m.csat,
    };
  }
}
