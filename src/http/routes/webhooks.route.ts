/**
 * Inbound webhooks: `POST /webhooks/:provider/:channelId` (anonymous; the provider verifies the
 * messenger's signature or secret on the raw body before anything else) and `GET` for messengers that
 * verify a webhook by challenge. Acknowledged only after the events are committed.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError, BadRequest, Conflict, NotFound } from '../../errors.ts';
import { isUuid } from '../../lib/ids.ts';
import type { Platform } from '../../platform.ts';
import type { WebhookRequest } from '../../providers/provider.ts';
import { ErrorAnswer } from '../schemas.ts';

interface Params {
  provider: string;
  channelId: string;
}

export function webhookRoutes(app: FastifyInstance, platform: Platform, bodyLimit: number): void {
  const { registry, host, inbound } = platform;
  const channels = platform.services.channelCache;

  async function resolve(request: FastifyRequest<{ Params: Params }>) {
    const { provider: name, channelId } = request.params;
    const provider = registry.get(name);
    if (!provider) throw new AppError('UNKNOWN_PROVIDER', `no provider "${name}"`);
    const channel = isUuid(channelId) ? await channels.get(channelId) : undefined;
    if (!channel) throw new NotFound('Channel', channelId);
    if (host.providerFor(channel) !== provider) {
      throw new BadRequest(
        'PROVIDER_MISMATCH',
        `channel ${channelId} is a ${channel.type} channel not served by ${provider.name}`,
      );
    }
    if (channel.state !== 'active') {
      throw new Conflict('CHANNEL_NOT_ACTIVE', `channel ${channelId} is ${channel.state}`, {
        state: channel.state,
      });
    }
    return { provider, channel, webhookRequest: webhookRequestOf(request) };
  }

  app.register(async (hooks) => {
    // Every refusal of a webhook, whoever made it (the rate limit, the body limit, the channel
    // lookup, the provider's signature check), is counted where it is answered, by the code the
    // messenger was given (`omniline_webhook_rejections_total`).
    hooks.addHook('onSend', async (request, reply, payload) => {
      if (reply.statusCode >= 400) {
        const name = (request.params as Partial<Params>).provider;
        const provider = name && registry.get(name) ? name : 'unknown';
        platform.prometheus.webhookRejected(provider, errorCodeOf(payload, reply.statusCode));
      }
      return payload;
    });
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
    const schema = { tags: ['webhooks'], security: [] };
    const unsupported = ErrorAnswer('The provider has no such webhook: `WEBHOOK_NOT_SUPPORTED`.');
    const inactive = ErrorAnswer('The channel is not active: `CHANNEL_NOT_ACTIVE`.');
    const post = {
      ...schema,
      summary: 'Inbound messenger webhook (verified by the provider)',
      response: {
        200: Type.Unknown({
          description:
            'Acknowledged once the events are stored: `{"ok": true, "stored", "duplicates", …}`, or the answer the messenger expects',
        }),
        401: ErrorAnswer(
          'The provider refused the signature or secret (`INVALID_SIGNATURE`, `INVALID_SECRET_TOKEN`, …); nothing was stored.',
        ),
        405: unsupported,
        409: inactive,
      },
    };
    const verify = {
      ...schema,
      summary: 'Webhook verification by challenge (messengers that verify their webhook URL)',
      response: {
        200: Type.String({ description: 'The challenge, as the messenger expects it (text/plain)' }),
        403: ErrorAnswer('The verify token does not match: `CHALLENGE_REFUSED`.'),
        405: unsupported,
        409: inactive,
      },
    };

    hooks.post<{ Params: Params }>(
      '/webhooks/:provider/:channelId',
      { schema: post },
      async (request, reply) => {
        const probe = registry.get(request.params.provider)?.probe?.(webhookRequestOf(request));
        if (probe) return reply.status(probe.status).send(probe.body);
        const { provider, channel, webhookRequest } = await resolve(request);
        if (!provider.parseWebhook)
          throw new AppError('WEBHOOK_NOT_SUPPORTED', `${provider.name} takes no webhooks`);
        const result = await provider.parseWebhook(host.context(channel), webhookRequest);
        const stats = await inbound.receive(channel, result.events, host.profileLookup(channel));
        if (result.reply) {
          return reply
            .status(result.reply.status)
            .type(result.reply.contentType ?? 'application/json')
            .send(result.reply.body);
        }
        return { ok: true, ...stats };
      },
    );

    hooks.get<{ Params: Params }>(
      '/webhooks/:provider/:channelId',
      { schema: verify },
      async (request, reply) => {
        const { provider, channel, webhookRequest } = await resolve(request);
        const answer = provider.verifyChallenge?.(host.context(channel), webhookRequest);
        if (answer === undefined)
          throw new AppError('WEBHOOK_NOT_SUPPORTED', `${provider.name} has no webhook verification`);
        if (answer === null) throw new AppError('CHALLENGE_REFUSED', 'the verify token does not match');
        return reply.status(answer.status).type('text/plain').send(answer.body);
      },
    );
  });
}

function webhookRequestOf(request: FastifyRequest): WebhookRequest {
  return {
    method: request.method,
    url: request.url,
    headers: request.headers,
    query: request.query as Record<string, string | undefined>,
    rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
  };
}

/** The `error.code` of an error answer (every error is `{"error": {"code", …}}`), else `HTTP_<status>`. */
function errorCodeOf(payload: unknown, status: number): string {
  if (typeof payload === 'string' && payload.startsWith('{')) {
    try {
      const code = (JSON.parse(payload) as { error?: { code?: unknown } }).error?.code;
      if (typeof code === 'string') return code;
    } catch {}
  }
  return `HTTP_${status}`;
}
