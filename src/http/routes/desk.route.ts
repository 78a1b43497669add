/**
 * What the operator desk (web/desk, served at /desk/) reads and writes beyond the workspace routes:
 * its lists as session views, the query box's search, internal notes, canned replies, staff loads.
 */
import { Type } from 'typebox';
import { DESK_LISTS, DeskService, MAX_CANNED, MAX_NOTE } from '../../desk/desk.service.ts';
import type { Platform } from '../../platform.ts';
import { callerOf } from '../plugins/auth.ts';
import type { App, RouteContext } from '../route-context.ts';
import {
  Enum,
  ErrorAnswer,
  IdParams,
  MessageSchema,
  NoContent,
  Nullable,
  Page,
  SearchBody,
  Timestamp,
  Uuid,
} from '../schemas.ts';

const DeskChatSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String({ description: "the client's name (as the messenger gave it; plain text)" }),
    channel: Type.String({ description: 'the channel type' }),
    status: Type.String({ description: 'the session state' }),
    lineId: Uuid,
    channelId: Uuid,
    clientId: Nullable(Type.String()),
    priority: Type.String(),
    offered: Type.Boolean(),
    accepted: Type.Boolean(),
    startedAt: Timestamp,
    queuedAt: Nullable(Timestamp),
    awaitingAnswerSince: Nullable(Timestamp),
    closedAt: Nullable(Timestamp),
    unreadClientMessageCount: Type.Optional(Nullable(Type.Integer())),
    lastMessage: Type.Optional(Nullable(MessageSchema)),
  },
  {
    additionalProperties: true,
    description: 'The session view of chatSessionStarted (timers, previous operator, …) and the list fields',
  },
);

const CannedReplySchema = Type.Object({
  id: Uuid,
  shortcut: Type.String(),
  text: Type.String(),
  lineId: Nullable(Uuid),
  userId: Nullable(Uuid),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const Shortcut = Type.String({ minLength: 1, maxLength: 40, description: 'typed after "/" in the composer' });
const CannedText = Type.String({ minLength: 1, maxLength: MAX_CANNED });

export function deskRoutes(platform: Platform) {
  const desk = new DeskService(platform.services.deps, platform.services.sessions);
  return (app: App, { auth }: RouteContext): void => {
    const tags = ['desk'];
    const staff = auth.require('admin', 'supervisor', 'operator');
    const managers = auth.require('admin', 'supervisor');
    app.get(
      '/desk/chats',
      {
        preHandler: staff,
        schema: {
          tags,
          summary:
            'A desk list: my chats and offers (`mine`), the queue of my lines (`queue`), closed in the last 24 h (`closed`)',
          description:
            'Sorted as the router sorts: priority High → Low, then waiting longest (in the queue, or for an answer), then latest activity; `closed` newest close first.',
          querystring: Type.Object({ list: Enum(DESK_LISTS) }, { additionalProperties: false }),
          response: { 200: Page(DeskChatSchema) },
        },
      },
      (req) => desk.list(req.query.list, callerOf(req)),
    );
    app.get(
      '/desk/chats/:id',
      {
        preHandler: staff,
        schema: {
          tags,
          summary: 'One session as the desk lists it',
          params: IdParams,
          response: { 200: DeskChatSchema },
        },
      },
      (req) => desk.chat(req.params.id, callerOf(req)),
    );
    app.post(
      '/desk/chats/search',
      {
        preHandler: staff,
        schema: {
          tags,
          summary: 'Search sessions (the search language of POST /sessions/search), answered as desk views',
          body: SearchBody,
          response: { 200: Page(DeskChatSchema) },
        },
      },
      (req) => desk.search(req.body, callerOf(req)),
    );
    app.get(
      '/desk/staff',
      {
        preHandler: managers,
        schema: {
          tags,
          summary: 'The staff of my lines (or of one) with status, open sessions and capacity; online first',
          querystring: Type.Object({ lineId: Type.Optional(Uuid) }, { additionalProperties: false }),
          response: {
            200: Page(
              Type.Object({
                id: Uuid,
                name: Type.String(),
                role: Type.String(),
                status: Type.String(),
                openSessions: Type.Integer(),
                capacity: Type.Integer(),
              }),
            ),
          },
        },
      },
      (req) => desk.staff(callerOf(req), req.query.lineId),
    );
    app.post(
      '/sessions/:id/notes',
      {
        preHandler: staff,
        schema: {
          tags,
          summary:
            'Add an internal note: a message of type `note`, seen by staff only, never sent to the client',
          params: IdParams,
          body: Type.Object(
            { text: Type.String({ minLength: 1, maxLength: MAX_NOTE }) },
            { additionalProperties: false },
          ),
          response: { 201: MessageSchema },
        },
      },
      async (req, reply) =>
        reply.status(201).send(await desk.addNote(req.params.id, req.body.text, callerOf(req))),
    );
    app.get(
      '/canned-replies',
      {
        preHandler: staff,
        schema: {
          tags,
          summary: 'Canned replies I may use: mine and those of my lines',
          response: { 200: Page(CannedReplySchema) },
        },
      },
      (req) => desk.cannedReplies(callerOf(req)),
    );
    app.post(
      '/canned-replies',
      {
        preHandler: staff,
        schema: {
          tags,
          summary: 'Add a canned reply: a line’s (with `lineId`, supervisors of the line) or my own',
          body: Type.Object(
            { shortcut: Shortcut, text: CannedText, lineId: Type.Optional(Uuid) },
            { additionalProperties: false },
          ),
          response: {
            201: CannedReplySchema,
            409: ErrorAnswer('The shortcut is taken in that scope: `SHORTCUT_TAKEN`.'),
          },
        },
      },
      async (req, reply) => reply.status(201).send(await desk.addCannedReply(req.body, callerOf(req))),
    );
    app.patch(
      '/canned-replies/:id',
      {
        preHandler: staff,
        schema: {
          tags,
          summary: 'Change a canned reply: my own, or one of a line I supervise',
          params: IdParams,
          body: Type.Object(
            { shortcut: Type.Optional(Shortcut), text: Type.Optional(CannedText) },
            { additionalProperties: false, minProperties: 1 },
          ),
          response: {
            200: CannedReplySchema,
            404: ErrorAnswer('No such canned reply that you may change: `CANNED_REPLY_NOT_FOUND`.'),
            409: ErrorAnswer('The shortcut is taken in that scope: `SHORTCUT_TAKEN`.'),
          },
        },
      },
      (req) => desk.updateCannedReply(req.params.id, req.body, callerOf(req)),
    );
    app.delete(
      '/canned-replies/:id',
      {
        preHandler: staff,
        schema: {
          tags,
          summary: 'Delete a canned reply: my own, or one of a line I supervise',
          params: IdParams,
          response: {
            204: NoContent,
            404: ErrorAnswer('No such canned reply that you may change: `CANNED_REPLY_NOT_FOUND`.'),
          },
        },
      },
      async (req, reply) => {
        await desk.deleteCannedReply(req.params.id, callerOf(req));
        return reply.status(204).send();
      },
    );
  };
}
