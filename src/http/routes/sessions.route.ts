import { Type } from 'typebox';
import { MAX_MESSAGE_PAGE } from '../../domain/message/message.service.ts';
import {
  MESSAGE_DIRECTIONS,
  MESSAGE_STATUSES,
  MESSAGE_TYPES,
  SENDER_TYPES,
} from '../../domain/message/message.ts';
import {
  type AssignTarget,
  DEFAULT_HISTORY_PAGE,
  MAX_HISTORY_PAGE,
} from '../../domain/session/session.service.ts';
import { PRIORITIES, SESSION_STATES } from '../../domain/session/session.ts';
import { callerOf } from '../plugins/auth.ts';
import type { App, RouteContext } from '../route-context.ts';
import {
  CursorPage,
  CursorQuery,
  Enum,
  ErrorAnswer,
  HistoryEntrySchema,
  IdParams,
  MessageSchema,
  Nullable,
  Page,
  SearchBody,
  SessionSchema,
  Uuid,
} from '../schemas.ts';
import { listRoute } from './collection-list.ts';

export function sessionRoutes(app: App, { services, auth }: RouteContext): void {
  const tags = ['sessions'];
  const s = services.sessions;
  app.post(
    '/sessions',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'Start a conversation with a messenger account (login, phone or e-mail by channel type)',
        body: Type.Object(
          { channelId: Uuid, account: Type.String({ minLength: 1, maxLength: 320 }) },
          { additionalProperties: false },
        ),
        response: {
          200: SessionSchema,
          201: SessionSchema,
          404: ErrorAnswer('No such channel, or not one of your lines: `CHANNEL_NOT_FOUND`.'),
          409: ErrorAnswer(
            'The channel is not active (`CHANNEL_NOT_ACTIVE`), or the client changed concurrently (`SESSION_OPEN_CONFLICT`, `CLIENT_CHANGED`: retry).',
          ),
          422: ErrorAnswer('The account is not one for this channel type: `INVALID_ACCOUNT`.'),
        },
      },
    },
    async (req, reply) => {
      const { session, created } = await s.create(req.body.channelId, req.body.account, callerOf(req));
      return reply.status(created ? 201 : 200).send(session);
    },
  );
  app.get(
    '/sessions/:id',
    {
      preHandler: auth.any,
      schema: { tags, summary: 'A session', params: IdParams, response: { 200: SessionSchema } },
    },
    (req) => s.get(req.params.id, callerOf(req)),
  );
  app.post(
    '/sessions/search',
    {
      preHandler: auth.any,
      schema: { tags, summary: 'Search sessions', body: SearchBody, response: { 200: Page(SessionSchema) } },
    },
    (req) => s.search(req.body, callerOf(req)),
  );
  listRoute(app, {
    url: '/sessions',
    tags,
    summary: 'List sessions, a page at a time, by simple filters',
    preHandler: auth.any,
    item: SessionSchema,
    softDeleted: true,
    filters: {
      state: { field: 'state', schema: Enum(SESSION_STATES) },
      lineId: { field: 'lineId', schema: Uuid },
      channelId: { field: 'channelId', schema: Uuid },
      clientId: { field: 'clientIds', schema: { ...Uuid, description: 'a client among the session’s' } },
      operatorId: { field: 'operatorId', schema: Uuid },
      groupId: { field: 'operatorGroupId', schema: Uuid },
      botId: { field: 'botId', schema: Uuid },
      priority: { field: 'priority', schema: Enum(PRIORITIES) },
    },
    search: (request, req) => s.search(request, callerOf(req)),
  });
  app.post(
    '/sessions/:id/assign',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'Assign to an operator, a bot or an operator group (exactly one)',
        params: IdParams,
        body: Type.Union([
          Type.Object({ operatorId: Uuid }, { additionalProperties: false }),
          Type.Object({ botId: Uuid }, { additionalProperties: false }),
          Type.Object({ groupId: Uuid }, { additionalProperties: false }),
        ]),
        response: {
          200: SessionSchema,
          409: ErrorAnswer(
            'The session’s state does not allow it: `SESSION_CLOSED`, `SESSION_MARKED_AS_SPAM`, `SESSION_ALREADY_ACCEPTED`.',
          ),
          422: ErrorAnswer(
            'The target does not fit: `ASSIGNEE_NOT_FOUND`, `ASSIGNEE_BLOCKED`, `TARGET_BOT_NOT_FOUND`, `GROUP_NOT_FOUND`.',
          ),
        },
      },
    },
    (req) => s.assign(req.params.id, req.body as AssignTarget, callerOf(req)),
  );
  app.post(
    '/sessions/:id/close',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'Close the session',
        params: IdParams,
        response: {
          200: SessionSchema,
          409: ErrorAnswer('It is closed already: `SESSION_ALREADY_CLOSED`, `SESSION_MARKED_AS_SPAM`.'),
        },
      },
    },
    (req) => s.close(req.params.id, callerOf(req)),
  );
  app.post(
    '/sessions/:id/spam',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'Mark as spam: closes it and drops it from metrics',
        params: IdParams,
        response: {
          200: SessionSchema,
          409: ErrorAnswer(
            'Not for internal and support channels (`SPAM_NOT_ALLOWED_FOR_CHANNEL_TYPE`), or spam already (`SESSION_ALREADY_SPAM`).',
          ),
        },
      },
    },
    (req) => s.markAsSpam(req.params.id, callerOf(req)),
  );
  app.delete(
    '/sessions/:id/spam',
    {
      preHandler: auth.require('admin', 'supervisor'),
      schema: {
        tags,
        summary: 'Take out of spam (last session of the chain, or any inbox session); it returns to Closed',
        params: IdParams,
        response: {
          200: SessionSchema,
          409: ErrorAnswer(
            'Not spam (`SESSION_NOT_SPAM`), or not the last of its chain (`UNMARK_SPAM_NOT_LAST_IN_CHAIN`).',
          ),
        },
      },
    },
    (req) => s.unmarkAsSpam(req.params.id, callerOf(req)),
  );
  app.get(
    '/sessions/:id/history',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'Who changed the state, when, from which state; oldest first, a page at a time',
        params: IdParams,
        querystring: CursorQuery(MAX_HISTORY_PAGE, DEFAULT_HISTORY_PAGE),
        response: { 200: CursorPage(HistoryEntrySchema) },
      },
    },
    (req) => s.history(req.params.id, callerOf(req), req.query),
  );
  app.get(
    '/sessions/:id/messages',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'Messages, newest first; pass nextCursor as `cursor` for older ones',
        params: IdParams,
        querystring: Type.Object({
          ...CursorQuery(MAX_MESSAGE_PAGE, 50).properties,
          before: Type.Optional(
            Type.String({
              pattern: '^[0-9]{1,18}$',
              deprecated: true,
              description: 'the former name of `cursor`',
            }),
          ),
        }),
        response: { 200: CursorPage(MessageSchema) },
      },
    },
    async (req) => {
      await s.visible(req.params.id, callerOf(req));
      return services.messages.page(req.params.id, req.query);
    },
  );
  app.get(
    '/sessions/:id/last-message',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'The newest message, or null',
        params: IdParams,
        response: { 200: Nullable(MessageSchema) },
      },
    },
    async (req) => {
      await s.visible(req.params.id, callerOf(req));
      return services.messages.last(req.params.id);
    },
  );
  app.post(
    '/messages/search',
    {
      preHandler: auth.any,
      schema: {
        tags: ['messages'],
        summary: 'Search messages of the sessions you may see',
        body: SearchBody,
        response: { 200: Page(MessageSchema) },
      },
    },
    (req) => services.messages.search(req.body, callerOf(req)),
  );
  listRoute(app, {
    url: '/messages',
    tags: ['messages'],
    summary: 'List messages of the sessions you may see, newest first, by simple filters',
    preHandler: auth.any,
    item: MessageSchema,
    filters: {
      sessionId: { field: 'sessionId', schema: Uuid },
      channelId: { field: 'channelId', schema: Uuid },
      direction: { field: 'direction', schema: Enum(MESSAGE_DIRECTIONS) },
      type: { field: 'type', schema: Enum(MESSAGE_TYPES) },
      status: { field: 'status', schema: Enum(MESSAGE_STATUSES) },
      senderType: { field: 'senderType', schema: Enum(SENDER_TYPES) },
    },
    search: (request, req) => services.messages.search(request, callerOf(req)),
  });
}
