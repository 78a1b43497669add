/**
 * `GET /lines/:id/metrics?from&to`: a line's session counts, answer and handling times, operator
 * rows and live queue over [from, to). The definitions are in routing/metrics.service.ts.
 */
import { Type } from 'typebox';
import type { MetricsService } from '../../routing/metrics.service.ts';
import { callerOf } from '../plugins/auth.ts';
import type { App, RouteContext } from '../route-context.ts';
import { IdParams, Nullable, Uuid } from '../schemas.ts';

const Count = Type.Integer({ minimum: 0 });
const Seconds = (description: string) => Nullable(Type.Number({ minimum: 0, description }));

const timeStats = (description?: string) =>
  Type.Object(
    { count: Count, avgSeconds: Seconds('Average in seconds; null without data') },
    description ? { description } : {},
  );

const percentileStats = (description: string) =>
  Type.Object(
    {
      count: Count,
      avgSeconds: Seconds('Average in seconds; null without data'),
      p90Seconds: Seconds('90th percentile in seconds (interpolated, percentile_cont); null without data'),
    },
    { description },
  );

export const LineMetricsSchema = Type.Object(
  {
    lineId: Uuid,
    from: Type.String({ format: 'date-time', description: 'Start of the range, inclusive' }),
    to: Type.String({ format: 'date-time', description: 'End of the range, exclusive' }),
    now: Type.String({ format: 'date-time', description: 'When the queue was read' }),
    sessions: Type.Object({
      byState: Type.Object(
        {
          Waiting: Count,
          AssignedToBot: Count,
          AssignedToOperator: Count,
          Closed: Count,
          MarkedAsSpam: Count,
        },
        { description: 'Sessions started in the range, by their current state' },
      ),
      new: Type.Integer({ minimum: 0, description: 'Started in the range, not spam' }),
      closed: Type.Integer({ minimum: 0, description: 'Closed in the range (not spam)' }),
      spam: Type.Integer({ minimum: 0, description: 'Started in the range and marked as spam' }),
    }),
    firstAnswer: percentileStats("First operator answers given in the range, from the session's start"),
    nextAnswer: percentileStats(
      'Next operator answers given in the range, from the client message that started the wait',
    ),
    handling: timeStats('Sessions closed in the range that had an operator: first assignment → close'),
    operators: Type.Array(
      Type.Object({
        operatorId: Uuid,
        name: Nullable(Type.String()),
        sessionsHandled: Type.Integer({
          minimum: 0,
          description:
            'Distinct sessions the operator answered in the range or that were closed in the range while assigned to them',
        }),
        firstAnswer: timeStats('First answers the operator gave in the range'),
        nextAnswer: timeStats('Next answers the operator gave in the range'),
        handling: timeStats('Sessions closed in the range while assigned to the operator'),
      }),
      { description: 'One row per operator with activity in the range; spam excluded' },
    ),
    queue: Type.Object(
      {
        length: Type.Integer({ minimum: 0, description: 'Waiting sessions now' }),
        longestWaitSeconds: Seconds('Now minus the earliest queue entry; null when nobody waits'),
      },
      { description: 'The queue now (by the clock), whatever the range' },
    ),
    csat: Type.Object(
      {
        count: Type.Integer({ minimum: 0, description: 'Ratings given in the range' }),
        average: Nullable(
          Type.Number({ description: 'Their mean, 1–5 (two decimals); null without ratings' }),
        ),
        byRating: Type.Object(
          { '1': Count, '2': Count, '3': Count, '4': Count, '5': Count },
          { description: 'How many of each rating' },
        ),
      },
      {
        description: 'Satisfaction ratings (CSAT) visitors gave in the range, of sessions that are not spam',
      },
    ),
  },
  { description: 'Spam sessions are excluded everywhere except sessions.spam and byState.MarkedAsSpam' },
);

const MetricsQuerystring = Type.Object(
  {
    from: Type.Optional(
      Type.String({ format: 'date-time', description: 'ISO 8601, inclusive; default: 24 h before `to`' }),
    ),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601, exclusive; default: now' })),
  },
  { additionalProperties: false },
);

/** The metrics route, bound to the metrics service (wired in app.ts with the platform's). */
export function metricsRoutes(metrics: MetricsService) {
  return (app: App, { auth }: RouteContext): void => {
    app.get(
      '/lines/:id/metrics',
      {
        preHandler: auth.require('admin', 'supervisor'),
        schema: {
          tags: ['lines'],
          summary: 'Line metrics over [from, to): sessions, answer and handling times, operators, queue',
          description:
            'Admins: any line; supervisors: their lines (404 otherwise); operators: 403. The range is at most 366 days.',
          params: IdParams,
          querystring: MetricsQuerystring,
          response: { 200: LineMetricsSchema },
        },
      },
      (req) => metrics.line(req.params.id, req.query, callerOf(req)),
    );
  };
}
