import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { RETRY_AFTER_SECONDS } from '../../db/availability.ts';
import type { Db } from '../../db/client.ts';

/** `/healthz` answers within this even when the database does not. */
const HEALTH_TIMEOUT_MS = 5000;

/** `GET /healthz` (checks the database) and `GET /metrics` (Prometheus). */
export function systemRoutes(app: FastifyInstance, db: Db): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'omniline_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    httpDuration
      .labels(request.method, request.routeOptions.url ?? 'unmatched', String(reply.statusCode))
      .observe(reply.elapsedTime / 1000);
  });

  app.get(
    '/healthz',
    { schema: { tags: ['system'], summary: 'Liveness and database check' } },
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

  app.get('/metrics', { schema: { tags: ['system'], summary: 'Prometheus metrics' } }, async (_req, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
}
