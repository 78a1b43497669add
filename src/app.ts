/**
 * buildApp: the Fastify instance with every plugin and route, and no listen() — tests drive it with
 * `app.inject`, main.ts listens.
 */

import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { MAX_FILE_BYTES } from './files/file.service.ts';
import { createAuth, markPublicRoutes } from './http/plugins/auth.ts';
import { clientErrorHandler, registerErrorHandling, renderFrameworkError } from './http/plugins/errors.ts';
import { jsonSizeLimit, registerInputGuard } from './http/plugins/input-guard.ts';
import { documentErrorResponses } from './http/plugins/openapi-errors.ts';
import { registerWebApps } from './http/plugins/web-apps.ts';
import type { RouteContext } from './http/route-context.ts';
import { auditRoutes } from './http/routes/audit.route.ts';
import { authRoutes } from './http/routes/auth.route.ts';
import { channelRoutes } from './http/routes/channels.route.ts';
import { clientRoutes, contactRoutes } from './http/routes/clients.route.ts';
import { deskRoutes } from './http/routes/desk.route.ts';
import { botRoutes, groupRoutes, lineRoutes } from './http/routes/lines.route.ts';
import { livechatRoutes } from './http/routes/livechat.route.ts';
import { messageRoutes } from './http/routes/messages.route.ts';
import { metricsRoutes } from './http/routes/metrics.route.ts';
import { sessionRoutes } from './http/routes/sessions.route.ts';
import { systemRoutes } from './http/routes/system.route.ts';
import { userRoutes } from './http/routes/users.route.ts';
import { webhookRoutes } from './http/routes/webhooks.route.ts';
import { workspaceRoutes } from './http/routes/workspace.route.ts';
import type { Platform } from './platform.ts';
import { attachGateway } from './realtime/index.ts';
import { apiKey, channelKey, trustProxyOption } from './security/limits.ts';

export interface AppOptions {
  platform: Platform;
  bodyLimitBytes?: number;
  /** A pino logger; none means silent (tests). */
  logger?: FastifyBaseLogger;
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    bodyLimit: opts.bodyLimitBytes ?? 1024 * 1024,
    // Who may say, in X-Forwarded-For, which address a request comes from (per-address limits).
    trustProxy: trustProxyOption(opts.platform.limits.settings.trustProxy),
    ajv: {
      customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false },
      plugins: [jsonSizeLimit],
    },
    // Path parameters of any length reach their route, whose schema names the bad one (`params.id`);
    // the HTTP parser's header limit (431) bounds the URL first.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 64 * 1024 },
    frameworkErrors: (err, _request, reply) => renderFrameworkError(err, reply),
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.decorateRequest('caller', null);
  // Operations without an auth guard are marked public in the OpenAPI document (`security: []`).
  markPublicRoutes(app);
  // Every operation's error responses, in the one error shape, from what the route is.
  documentErrorResponses(app);
  registerErrorHandling(app);
  registerInputGuard(app);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Omniline API',
        version: '1.0.0',
        description:
          'Omnichannel contact-center server: lines, channels, clients, contacts, sessions and messages. ' +
          'Authenticate with `Authorization: Bearer <token>` from `POST /api/v1/auth/login`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    // Shared schemas (the error shape) appear under their own $id in components.schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs' });

  await app.register(multipart, {
    limits: { fileSize: MAX_FILE_BYTES, files: 10, fields: 5, fieldSize: 64 * 1024 },
  });

  // The operator desk at /desk/ and the live-chat widget (/widget.js), built into dist/web/.
  await registerWebApps(app, [{ name: 'desk' }, { name: 'widget', rootFiles: ['widget.js'] }]);

  const { services } = opts.platform;
  const { limits } = opts.platform;
  systemRoutes(app, services.deps.db, {
    metricsToken: limits.settings.metricsToken,
    prometheus: opts.platform.prometheus,
  });
  await app.register(async (scope) => {
    await limits.limitRequests(scope, 'webhook', limits.settings.webhookRateLimit, channelKey);
    webhookRoutes(scope, opts.platform, opts.bodyLimitBytes ?? 1024 * 1024);
  });
  await app.register(async (scope) => livechatRoutes(scope, opts.platform));
  const ctx: RouteContext = { services, auth: createAuth(services.users), limits };
  await app.register(
    async (api) => {
      await limits.limitRequests(api, 'api', limits.settings.apiRateLimit, apiKey);
      const typed = api.withTypeProvider<TypeBoxTypeProvider>();
      for (const routes of [
        authRoutes,
        auditRoutes,
        userRoutes,
        lineRoutes,
        groupRoutes,
        botRoutes,
        channelRoutes,
        clientRoutes,
        contactRoutes,
        sessionRoutes,
        messageRoutes(opts.platform),
        metricsRoutes(opts.platform.metrics),
        workspaceRoutes(opts.platform),
        deskRoutes(opts.platform),
      ]) {
        routes(typed, ctx);
      }
    },
    { prefix: '/api/v1' },
  );
  // The realtime gateway shares the HTTP server; upgraded sockets must close before the server can.
  const detach = attachGateway(app.server, opts.platform.live.gateway);
  app.addHook('preClose', async () => {
    detach();
    await opts.platform.live.gateway.close();
  });
  return app;
}
