/**
 * The live-chat widget's HTTP side, at `/livechat/:channelId/…` (called cross-origin from the pages
 * that embed the widget; allowed origins per channel, CORS answered here):
 *
 *   GET  /config      the widget's look and whether anyone is there to answer (else: the offline form)
 *   POST /visitors    a visitor token (anonymous id, or a site user verified by HMAC), and the visit
 *   POST /files       one uploaded file (capped, type-checked by content), for a message to carry
 *   POST /messages    the visitor's message / read / typing / close — through the provider and the
 *                     inbound pipeline, like any webhook (a resend of one message uuid is stored once)
 *   GET  /messages    the visitor's own history, newest first, paged by cursor
 *   POST /rating      CSAT (1–5) of one of the visitor's closed sessions
 *
 * Receiving happens on the realtime gateway (the `centrifuge` SDK with the visitor token).
 */
import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ChannelRow } from '../../domain/channel/channel.repository.ts';
import { lineRepository } from '../../domain/line/line.repository.ts';
import { livechatRepository } from '../../domain/livechat/livechat.repository.ts';
import { AppError, Conflict, InvalidField, NotFound } from '../../errors.ts';
import { FileTooLarge } from '../../files/file-store.ts';
import { isUuid } from '../../lib/ids.ts';
import type { Platform } from '../../platform.ts';
import { bearer, visitorOf } from '../../providers/livechat/livechat.provider.ts';
import { originAllowed, widgetSettings } from '../../providers/livechat/livechat.settings.ts';
import { UPLOAD_TYPES, uploadRef } from '../../providers/livechat/uploads.ts';
import type { VisitorMessage } from '../../providers/livechat/visitor-events.ts';
import {
  anonymousVisitorId,
  IDENTITY_ID,
  identityValid,
  issueVisitorToken,
} from '../../providers/livechat/visitor-token.ts';
import { isOpenAt, queueOf } from '../../routing/queue-settings.ts';
import { ErrorAnswer } from '../schemas.ts';
import { malformedMultipart, storable } from './messages.route.ts';

interface Params {
  channelId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    livechat: { channel: ChannelRow; settings: Record<string, unknown> } | null;
  }
}

const tags = ['livechat'];
const security: never[] = [];
const VISITOR_AUTH =
  'Requires `Authorization: Bearer <visitor token>` from `POST /livechat/{channelId}/visitors`.';

/** The visitor a token names, without checking it: only to pick a rate-limit bucket (checked in the handler). */
function visitorKey(req: FastifyRequest): string {
  const token = bearer(req.headers);
  const payload = token?.split('.')[1];
  if (payload) {
    try {
      const v = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { v?: unknown }).v;
      if (typeof v === 'string') return `v:${v.slice(0, 64)}`;
    } catch {}
  }
  return `ip:${normalizeIP(req.ip)}`;
}

const clip = (v: string | undefined | null, max: number) => (v ? v.slice(0, max) : null);

export async function livechatRoutes(app: FastifyInstance, platform: Platform): Promise<void> {
  const { host, inbound, limits } = platform;
  const { channelCache, deps } = platform.services;
  const db = deps.db;

  app.decorateRequest('livechat', null);
  // Every request: a live-chat channel, a page of an allowed origin (CORS for it, 403 for others).
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const { channelId } = request.params as Partial<Params>;
    if (!channelId || !isUuid(channelId)) throw new InvalidField('params.channelId', 'must be a UUID');
    const channel = await channelCache.get(channelId);
    if (channel?.type !== 'livechat') throw new NotFound('Channel', channelId);
    const settings = host.context(channel).channel.settings;
    const origin = request.headers.origin;
    if (!originAllowed(settings, origin))
      throw new AppError('ORIGIN_NOT_ALLOWED', `origin ${origin ?? '(none)'} may not use this widget`);
    if (origin) {
      reply.header('access-control-allow-origin', origin);
      reply.header('vary', 'origin');
      reply.header('access-control-allow-headers', 'authorization, content-type');
      reply.header('access-control-allow-methods', 'GET, POST, OPTIONS');
      reply.header('access-control-max-age', '600');
    }
    request.livechat = { channel, settings };
  });
  await limits.limitRequests(
    app,
    'livechat-ip',
    limits.settings.livechatIpRateLimit,
    (r) => `ip:${normalizeIP(r.ip)}`,
  );
  await app.register(async (scope) => {
    await limits.limitRequests(
      scope,
      'livechat-visitor',
      limits.settings.livechatVisitorRateLimit,
      visitorKey,
    );
    routes(scope);
  });

  function routes(scope: FastifyInstance) {
    const ctxOf = (request: FastifyRequest) => {
      const lc = request.livechat!;
      return { ...lc, provider: host.context(lc.channel) };
    };
    const visitor = (request: FastifyRequest) => {
      const { provider } = ctxOf(request);
      return visitorOf(provider, bearer(request.headers), request.headers.origin);
    };

    scope.options('/livechat/:channelId/*', { schema: { hide: true } }, async (_req, reply) =>
      reply.status(204).send(),
    );

    scope.get<{ Params: Params }>(
      '/livechat/:channelId/config',
      {
        schema: {
          tags,
          security,
          summary: "The widget's settings, and whether an operator is there to answer",
          response: { 200: Type.Unknown({ description: 'Widget settings and `online`' }) },
        },
      },
      async (request) => {
        const { channel, settings } = request.livechat!;
        const { allowedOrigins: _hidden, ...widget } = widgetSettings(settings);
        const line = await lineRepository.byId(db, channel.lineId);
        const queue = queueOf(line?.queue);
        const open = isOpenAt(queue.businessHours, deps.clock.now());
        const online = open && (await livechatRepository.operatorsOnline(db, channel.lineId)) > 0;
        return { channelId: channel.id, name: channel.name, ...widget, online, withinBusinessHours: open };
      },
    );

    scope.post<{ Params: Params; Body: VisitorBody }>(
      '/livechat/:channelId/visitors',
      {
        schema: {
          tags,
          security,
          summary: 'A visitor token for the widget (anonymous, or a site user verified by HMAC)',
          description:
            'Send back the `visitorId` the previous answer gave (kept in localStorage) to stay the same visitor. ' +
            'A site identifies a signed-in user with `identity: {id, name, email, hash}`, where ' +
            '`hash = hex(HMAC-SHA256(identitySecret, id))`; a wrong hash is refused (403 `IDENTITY_REFUSED`).',
          body: VisitorBodySchema,
          response: {
            200: Type.Object({
              visitorId: Type.String(),
              token: Type.String(),
              expiresAt: Type.String({ format: 'date-time' }),
              websocketPath: Type.String(),
            }),
            403: ErrorAnswer(
              'Foreign origin (`ORIGIN_NOT_ALLOWED`) or a wrong identity hash (`IDENTITY_REFUSED`).',
            ),
          },
        },
      },
      async (request) => {
        const { channel, settings } = request.livechat!;
        const body = request.body ?? {};
        let visitorId: string;
        let name = clip(body.name, 200);
        let email = clip(body.email, 320);
        const identity = body.identity;
        if (identity) {
          const secret = settings.identitySecret;
          if (typeof secret !== 'string')
            throw new AppError(
              'IDENTITY_REFUSED',
              'this channel has no identity secret: identities cannot be verified',
            );
          if (!identityValid(secret, identity.id, identity.hash))
            throw new AppError(
              'IDENTITY_REFUSED',
              'identity.hash is not HMAC-SHA256(identity secret, identity.id)',
            );
          visitorId = `u:${identity.id}`;
          name = clip(identity.name, 200) ?? name;
          email = clip(identity.email, 320) ?? email;
        } else visitorId = anonymousVisitorId(body.visitorId);
        await livechatRepository.recordVisit(db, {
          channelId: channel.id,
          externalId: visitorId,
          pageUrl: clip(body.pageUrl, 2000),
          referer: clip(body.referrer, 2000),
          ip: normalizeIP(request.ip),
          coordinates:
            (platform.geoip?.lookup(request.ip) as Record<string, unknown> | null | undefined) ?? null,
          verified: !!identity,
          at: deps.clock.now(),
        });
        const issued = issueVisitorToken(settings.tokenSecret as string, channel.id, visitorId, Date.now(), {
          name,
          email,
        });
        return {
          visitorId,
          token: issued.token,
          expiresAt: issued.expiresAt.toISOString(),
          websocketPath: '/connection/websocket',
        };
      },
    );

    scope.post<{ Params: Params }>(
      '/livechat/:channelId/messages',
      {
        schema: {
          tags,
          security,
          summary: "The visitor's message, read receipt, typing or end of chat",
          description: `${VISITOR_AUTH} Body: \`{"event":"message","messageId":"<uuid>","text","files"?:[upload id]}\` (text may be left out when files are sent), \`{"event":"read","messageId"?}\`, \`{"event":"typing"}\` or \`{"event":"close"}\`. A message uuid sent twice is stored once.`,
          body: Type.Unknown(),
          response: {
            200: Type.Object({ ok: Type.Boolean(), stored: Type.Integer(), duplicates: Type.Integer() }),
            401: ErrorAnswer(
              'No, a wrong or an expired visitor token (`INVALID_VISITOR_TOKEN`, `VISITOR_TOKEN_EXPIRED`).',
            ),
          },
        },
      },
      async (request) => {
        const { channel, provider } = ctxOf(request);
        const lc = platform.registry.forType('livechat')!;
        const result = await lc.parseWebhook!(provider, {
          method: 'POST',
          url: request.url,
          headers: request.headers,
          query: {},
          rawBody: Buffer.from(JSON.stringify(request.body ?? null)),
        });
        const stats = await inbound.receive(channel, result.events);
        return { ok: true, stored: stats.stored, duplicates: stats.duplicates };
      },
    );

    scope.post<{ Params: Params }>(
      '/livechat/:channelId/files',
      {
        schema: {
          tags,
          security,
          summary: 'Upload one file (an image, a document) to send in a visitor message',
          description:
            `${VISITOR_AUTH} Body: \`multipart/form-data\` with one part \`file\`. The file must be at most the ` +
            "channel's `maxUploadBytes` (413 `PAYLOAD_TOO_LARGE`; 0: uploads are off) and, by its content " +
            '(sniffed, not the declared type), one of the `uploadTypes` of `GET /config` (415 ' +
            '`FILE_TYPE_NOT_ALLOWED`). The answer `id` goes into the message: ' +
            '`{"event":"message","messageId","text"?,"files":[id]}` (at most 5); an id works only for the visitor who uploaded it, ' +
            'and the file then belongs to their session. `url` downloads the file (signed, expiring).',
          consumes: ['multipart/form-data'],
          response: {
            201: VisitorUploadSchema,
            401: ErrorAnswer('No, a wrong or an expired visitor token.'),
            413: ErrorAnswer('Larger than the channel allows (`PAYLOAD_TOO_LARGE`, `details.maxBytes`).'),
            415: ErrorAnswer(
              'Not multipart (`UNSUPPORTED_MEDIA_TYPE`), or a file of a type not accepted (`FILE_TYPE_NOT_ALLOWED`).',
            ),
          },
        },
      },
      async (request, reply) => {
        const { channel, settings, provider } = ctxOf(request);
        const visitorId = visitor(request);
        const maxBytes = widgetSettings(settings).maxUploadBytes;
        if (!request.isMultipart())
          throw new AppError(
            'UNSUPPORTED_MEDIA_TYPE',
            'the body must be multipart/form-data with a part "file"',
          );
        if (maxBytes === 0)
          throw new AppError('PAYLOAD_TOO_LARGE', 'this channel takes no uploads', { maxBytes });
        let stored: Awaited<ReturnType<typeof platform.files.save>> | null = null;
        const parts = request.parts({ limits: { files: 1, fileSize: maxBytes + 1 } });
        for (;;) {
          let step: Awaited<ReturnType<typeof parts.next>>;
          try {
            step = await parts.next();
          } catch (err) {
            throw malformedMultipart(err);
          }
          if (step.done) break;
          const part = step.value;
          const path = `body.${storable(part.fieldname, 'body', 'a field name ')}`;
          if (part.type !== 'file' || part.fieldname !== 'file' || stored)
            throw new InvalidField(path, 'is not an allowed part (send one file, in a part named "file")');
          const name = part.filename ? storable(part.filename, path, 'the file name ').slice(0, 255) : null;
          const mimeType = storable(part.mimetype, path, 'the content type ');
          try {
            stored = await platform.files.save(part.file, {
              name,
              mimeType,
              maxBytes,
              accept: UPLOAD_TYPES,
            });
          } catch (err) {
            part.file.resume();
            if (err instanceof FileTooLarge || (err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE')
              throw new AppError('PAYLOAD_TOO_LARGE', `the file is larger than ${maxBytes} bytes`, {
                maxBytes,
              });
            throw part.file.errored ? malformedMultipart(part.file.errored) : err;
          }
        }
        if (!stored) throw new InvalidField('body.file', 'is required: a part named "file"');
        const file = {
          fileId: stored.id,
          name: stored.name,
          mimeType: stored.mimeType,
          size: stored.size,
        };
        const secret = provider.channel.settings.tokenSecret as string;
        return reply.status(201).send({
          id: uploadRef(secret, channel.id, visitorId, file),
          name: file.name,
          mimeType: file.mimeType,
          size: file.size,
          url: platform.files.links.url(file.fileId, deps.clock.now(), host.publicUrl).url,
        });
      },
    );

    scope.get<{ Params: Params; Querystring: { before?: string; limit?: number } }>(
      '/livechat/:channelId/messages',
      {
        schema: {
          tags,
          security,
          summary: "The visitor's own messages, newest first (all their sessions on this channel)",
          description: `${VISITOR_AUTH} Page with \`before\` = the \`nextCursor\` of the previous page.`,
          querystring: Type.Object({
            before: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 30 })),
          }),
          response: { 200: Type.Unknown({ description: '`{items: VisitorMessage[], nextCursor}`' }) },
        },
      },
      async (request) => {
        const { channel } = request.livechat!;
        const externalId = visitor(request);
        const limit = request.query.limit ?? 30;
        const rows = await livechatRepository.history(
          db,
          channel.id,
          externalId,
          request.query.before ? Number(request.query.before) : null,
          limit,
        );
        const items: VisitorMessage[] = rows.map((r) => ({
          id: r.id,
          sessionId: r.session_id,
          clientMessageId: r.direction === 'incoming' ? r.external_id : null,
          author:
            r.direction === 'incoming'
              ? 'visitor'
              : r.sender_type === 'operator'
                ? 'operator'
                : r.sender_type === 'bot'
                  ? 'bot'
                  : 'system',
          name: r.sender_name,
          text: r.text,
          attachments: r.attachments.map((a) => ({
            name: a.name,
            mimeType: a.mimeType,
            size: a.size,
            url: a.fileId ? platform.files.links.url(a.fileId, deps.clock.now(), host.publicUrl).url : null,
          })),
          createdAt: new Date(r.created_at).toISOString(),
          cursor: String(r.seq),
        }));
        const openSessionId = await livechatRepository.openSessionOf(db, channel.id, externalId);
        return {
          items,
          nextCursor: items.length === limit ? items[items.length - 1]!.cursor : null,
          openSessionId,
        };
      },
    );

    scope.post<{ Params: Params; Body: { sessionId: string; rating: number; comment?: string } }>(
      '/livechat/:channelId/rating',
      {
        schema: {
          tags,
          security,
          summary: "The visitor's satisfaction rating (CSAT 1–5) of their closed session",
          description: `${VISITOR_AUTH} One rating per session; it counts in the line's metrics (\`csat\`).`,
          body: Type.Object({
            sessionId: Type.String({ format: 'uuid' }),
            rating: Type.Integer({ minimum: 1, maximum: 5 }),
            comment: Type.Optional(Type.String({ maxLength: 1000 })),
          }),
          response: {
            201: Type.Object({ sessionId: Type.String(), rating: Type.Integer() }),
            404: ErrorAnswer('Not a session of this visitor: `SESSION_NOT_FOUND`.'),
            409: ErrorAnswer(
              'The session is still open (`SESSION_OPEN`) or rated already (`ALREADY_RATED`).',
            ),
          },
        },
      },
      async (request, reply) => {
        const { channel } = request.livechat!;
        const externalId = visitor(request);
        const { sessionId, rating, comment } = request.body;
        const session = await livechatRepository.sessionOfVisitor(db, sessionId, channel.id, externalId);
        if (!session) throw new NotFound('Session', sessionId);
        if (session.state !== 'Closed')
          throw new Conflict('SESSION_OPEN', 'a session is rated once it is closed');
        const stored = await livechatRepository.rate(db, {
          sessionId,
          lineId: session.line_id,
          rating,
          comment: comment?.trim() || null,
          at: deps.clock.now(),
        });
        if (!stored) throw new Conflict('ALREADY_RATED', 'this session has been rated already');
        return reply.status(201).send({ sessionId, rating });
      },
    );
  }
}

interface VisitorBody {
  visitorId?: string;
  name?: string;
  email?: string;
  pageUrl?: string;
  referrer?: string;
  identity?: { id: string; name?: string; email?: string; hash: string };
}

const VisitorUploadSchema = Type.Object({
  id: Type.String({ description: 'The upload id to name in a message’s `files`' }),
  name: Type.Union([Type.String(), Type.Null()]),
  mimeType: Type.String({ description: 'What the bytes are (sniffed)' }),
  size: Type.Integer(),
  url: Type.String({ description: 'A signed download link (expires)' }),
});

const VisitorBodySchema = Type.Object(
  {
    visitorId: Type.Optional(Type.String({ maxLength: 100, description: 'The id a previous answer gave' })),
    name: Type.Optional(Type.String({ maxLength: 200 })),
    email: Type.Optional(Type.String({ maxLength: 320, format: 'email' })),
    pageUrl: Type.Optional(Type.String({ maxLength: 2000 })),
    referrer: Type.Optional(Type.String({ maxLength: 2000 })),
    identity: Type.Optional(
      Type.Object({
        id: Type.String({ pattern: IDENTITY_ID.source }),
        name: Type.Optional(Type.String({ maxLength: 200 })),
        email: Type.Optional(Type.String({ maxLength: 320 })),
        hash: Type.String({ pattern: '^[0-9a-fA-F]{64}$' }),
      }),
    ),
  },
  { additionalProperties: false },
);
