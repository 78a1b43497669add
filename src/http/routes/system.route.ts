import { createHash, timingSafeEqual } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { RETRY_AFTER_SECONDS } from '../../db/availability.ts';
import type { Db } from '../../db/client.ts';
import { Unauthorized } from '../../errors.ts';
import type { Prometheus } from '../../observability/prometheus.ts';
import { bearerToken } from '../plugins/auth.ts';
import { ErrorAnswer } from '../schemas.ts';

const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
  database: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
});

/** `/healthz` answers within this even when the database does not. */
const HEALTH_TIMEOUT_MS = 5000;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * `GET /healthz` (checks the database) and `GET /metrics` (Prometheus: the platform's metrics, see
 * src/observability/prometheus.ts; with `metricsToken`, only for `Authorization: Bearer <metricsToken>`).
 */
export function systemRoutes(
  app: FastifyInstance,
  db: Db,
  opts: { metricsToken?: string | null; prometheus: Prometheus },
): void {
  const { prometheus } = opts;
  app.addHook('onResponse', async (request, reply) => {
    prometheus.httpDuration
      .labels(request.method, request.routeOptions.url ?? 'unmatched', String(reply.statusCode))
      .observe(reply.elapsedTime / 1000);
  });

  app.get(
    '/healthz',
    {
      schema: {
        tags: ['system'],
        summary: 'Liveness and database check',
        // Its own answer when the database is down (with Retry-After), not the error shape.
        response: { 200: Health, 503: { ...Health, description: 'The database does not answer' } },
      },
      // Probes call this every few seconds: Fastify's info lines for it are dropped (the route logs
      // at warn and above), and one debug line says each answer.
      logLevel: 'warn',
      onResponse: async (request, reply) => {
        app.log.debug(
          { reqId: request.id, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime },
          'health check',
        );
      },
    },
    async (_req, reply) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          db.execute(sql`SELECT 1`),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('no answer within 5 s')), HEALTH_TIMEOUT_MS);
          }),
        ]);
        return { status: 'ok', database: 'ok' };
      } catch (err) {
        app.log.warn({ err }, 'health check failed');
        reply.header('retry-after', String(RETRY_AFTER_SECONDS));
        return reply.status(503).send({ status: 'error', database: 'unavailable' });
      } finally {
        clearTimeout(timer);
      }
    },
  );

  const metricsToken = opts.metricsToken ? digest(opts.metricsToken) : null;
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['system'],
        summary: 'Prometheus metrics',
        description: metricsToken
          ? 'Requires `Authorization: Bearer <OMNILINE_METRICS_TOKEN>` (not an API token).'
          : 'Public: no OMNILINE_METRICS_TOKEN is set.',
        security: metricsToken ? [{ bearer: [] }] : [],
        response: {
          200: { type: 'string', description: 'The Prometheus text format' },
          ...(metricsToken && {
            401: ErrorAnswer('Not the metrics token: `UNAUTHORIZED`.'),
          }),
        },
      },
    },
    async (req, reply) => {
      if (metricsToken) {
        const token = bearerToken(req.headers.authorization);
        if (!token || !timingSafeEqual(digest(token), metricsToken)) {
          throw new Unauthorized('send "Authorization: Bearer <OMNILINE_METRICS_TOKEN>"');
        }
      }
      return reply.type(prometheus.contentType).send(await prometheus.scrape());
    },
  );
}
