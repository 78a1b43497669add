/**
 * The operator workspace over HTTP (the guide's OmnichannelChatService and OmnichannelOperatorService):
 * status, my chats, unread counts, accept, read, actions, transfer, return to queue, priority, bot hand-over.
 */
import { Type } from 'typebox';
import { OPERATOR_STATUSES } from '../../domain/operator/workspace.service.ts';
import { PRIORITIES } from '../../domain/session/session.ts';
import type { Platform } from '../../platform.ts';
import { callerOf } from '../plugins/auth.ts';
import type { App, RouteContext } from '../route-context.ts';
import {
  Enum,
  ErrorAnswer,
  IdParams,
  MessageSchema,
  Nullable,
  Page,
  SessionSchema,
  Uuid,
} from '../schemas.ts';

const StatusSchema = Type.Object({
  status: Enum(OPERATOR_STATUSES),
  maxSessions: Nullable(Type.Integer()),
  statusChangedAt: Nullable(Type.String({ format: 'date-time' })),
});

const WorkspaceSession = Type.Object({
  ...SessionSchema.properties,
  offered: Type.Boolean({ description: 'offered to me (accept to take it), not yet mine' }),
  accepted: Type.Boolean(),
  lastMessage: Nullable(MessageSchema),
});

export function workspaceRoutes(platform: Platform) {
  const ws = platform.workspace;
  return (app: App, { auth }: RouteContext): void => {
    const tags = ['workspace'];
    const staff = auth.require('admin', 'supervisor', 'operator');
    app.get(
      '/me/status',
      { preHandler: staff, schema: { tags, summary: 'My status', response: { 200: StatusSchema } } },
      (req) => ws.status(callerOf(req)),
    );
    app.put(
      '/me/status',
      {
        preHandler: staff,
        schema: {
          tags,
          summary: 'Set my status (only online operators receive new sessions) and, optionally, my capacity',
          body: Type.Object(
            {
              status: Enum(OPERATOR_STATUSES),
              maxSessions: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 1000 }))),
            },
            { additionalProperties: false },
          ),
          response: { 200: StatusSchema },
        },
      },
      async (req) => {
        await ws.setStatus(callerOf(req).id, req.body.status, { maxSessions: req.body.maxSessions });
        return ws.status(callerOf(req));
      },
    );
    app.get(
      '/me/sessions',
      {
        preHandler: staff,
        schema: {
          tags,
          summary: 'My chats, with unread counts and the last message',
          response: { 200: Page(WorkspaceSession) },
        },
      },
      (req) => ws.mySessions(callerOf(req)),
    );
    app.get(
      '/me/unread',
      {
        preHandler: staff,
        schema: {
          tags,
          summary: 'Unread chats and messages',
          response: { 200: Type.Object({ chats: Type.Integer(), messages: Type.Integer() }) },
        },
      },
      (req) => ws.unread(callerOf(req)),
    );
    app.post(
      '/sessions/:id/accept',
      {
        preHandler: staff,
        schema: {
          tags,
          summary: 'Take the session (first of concurrent accepts wins; the others get 409)',
          params: IdParams,
          response: {
            200: SessionSchema,
            409: ErrorAnswer(
              'Another operator took it (`SESSION_ALREADY_ACCEPTED`), you are full (`OPERATOR_AT_CAPACITY`), or its state does not allow it (`SESSION_CLOSED`, `SESSION_WITH_BOT`, …).',
            ),
          },
        },
      },
      (req) => ws.accept(req.params.id, callerOf(req)),
    );
    app.post(
      '/sessions/:id/read',
      {
        preHandler: auth.any,
        schema: {
          tags,
          summary: "Mark the client's messages read",
          params: IdParams,
          response: { 200: SessionSchema },
        },
      },
      (req) => ws.markRead(req.params.id, callerOf(req)),
    );
    app.get(
      '/sessions/:id/actions',
      {
        preHandler: auth.any,
        schema: {
          tags,
          summary: 'What I may do with this session now',
          params: IdParams,
          response: { 200: Type.Object({ actions: Type.Array(Type.String()) }) },
        },
      },
      async (req) => ({ actions: await ws.actions(req.params.id, callerOf(req)) }),
    );
    app.post(
      '/sessions/:id/transfer',
      {
        preHandler: staff,
        schema: {
          tags,
          summary: 'Transfer to an operator or a group (the previous operator is kept)',
          params: IdParams,
          body: Type.Union([
            Type.Object({ operatorId: Uuid }, { additionalProperties: false }),
            Type.Object({ groupId: Uuid }, { additionalProperties: false }),
          ]),
          response: {
            200: SessionSchema,
            409: ErrorAnswer(
              'The session’s state does not allow it: `SESSION_CLOSED`, `SESSION_MARKED_AS_SPAM`.',
            ),
            422: ErrorAnswer(
              'The target does not fit: `ASSIGNEE_NOT_FOUND`, `ASSIGNEE_BLOCKED`, `GROUP_NOT_FOUND`.',
            ),
          },
        },
      },
      (req) =>
        ws.transfer(req.params.id, req.body as { operatorId: string } | { groupId: string }, callerOf(req)),
    );
    app.post(
      '/sessions/:id/return-to-queue',
      {
        preHandler: staff,
        schema: {
          tags,
          summary:
            "Return a session an operator holds to its line's queue (its operator, or a supervisor of the line); routed again, to the others first",
          params: IdParams,
          response: {
            200: SessionSchema,
            403: ErrorAnswer('An operator returns only their own sessions: `NOT_YOUR_SESSION`.'),
            409: ErrorAnswer(
              'No operator has it (`SESSION_NOT_WITH_OPERATOR`), or it is over (`SESSION_CLOSED`, `SESSION_MARKED_AS_SPAM`).',
            ),
          },
        },
      },
      (req) => ws.returnToQueue(req.params.id, callerOf(req)),
    );
    app.patch(
      '/sessions/:id',
      {
        preHandler: auth.require('admin', 'supervisor'),
        schema: {
          tags,
          summary: 'Set the priority (queue order: High, Medium, Low, then oldest first)',
          params: IdParams,
          body: Type.Object({ priority: Enum(PRIORITIES) }, { additionalProperties: false }),
          response: { 200: SessionSchema },
        },
      },
      (req) => ws.setPriority(req.params.id, req.body.priority, callerOf(req)),
    );
    app.post(
      '/sessions/:id/handover',
      {
        preHandler: auth.require('bot', 'admin', 'supervisor'),
        schema: {
          tags: ['bots'],
          summary: "A bot hands its session to the line's queue",
          params: IdParams,
          response: {
            200: SessionSchema,
            409: ErrorAnswer('No bot has the session: `SESSION_NOT_WITH_BOT`.'),
          },
        },
      },
      (req) => ws.handover(req.params.id, callerOf(req)),
    );
  };
}
