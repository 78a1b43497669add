import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Db } from '../../db/client.ts';

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
      try {
        await db.execute(sql`SELECT 1`);
        return { status: 'ok', database: 'ok' };
      } catch (err) {
        app.log.error({ err }, 'health check failed');
        return reply.status(503).send({ status: 'error', database: 'unreachable' });
      }
    },
  );

  app.get('/metrics', { schema: { tags: ['system'], summary: 'Prometheus metrics' } }, async (_req, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
}
