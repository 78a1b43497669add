import { Type } from 'typebox';
import { callerOf } from '../plugins/auth.ts';
import type { App, RouteContext } from '../route-context.ts';
import {
  BotSchema,
  FreeForm,
  GroupSchema,
  IdParams,
  LineSchema,
  NoContent,
  Nullable,
  Page,
  SearchBody,
  Uuid,
} from '../schemas.ts';
import { listRoute, TextFilter } from './collection-list.ts';

const Name = Type.String({ minLength: 1, maxLength: 200 });
const LineBody = {
  settings: Type.Optional(
    Type.Object(
      { applicationType: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 100 }))) },
      { additionalProperties: false },
    ),
  ),
  queue: Type.Optional(FreeForm('Queue settings (routing).')),
  operatorIds: Type.Optional(Type.Array(Uuid, { maxItems: 10000 })),
  groupIds: Type.Optional(Type.Array(Uuid, { maxItems: 1000 })),
  botId: Type.Optional(Nullable(Uuid)),
};

export function lineRoutes(app: App, { services, auth }: RouteContext): void {
  const admin = auth.require('admin');
  const tags = ['lines'];
  app.post(
    '/lines',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Create a line: its settings, queue (routing), operators, groups and bot (admin)',
        body: Type.Object({ name: Name, ...LineBody }, { additionalProperties: false }),
        response: { 201: LineSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await services.lines.create(req.body)),
  );
  app.get(
    '/lines/:id',
    {
      preHandler: auth.any,
      schema: { tags, summary: 'A line', params: IdParams, response: { 200: LineSchema } },
    },
    (req) => services.lines.get(req.params.id, callerOf(req)),
  );
  app.post(
    '/lines/search',
    {
      preHandler: auth.any,
      schema: { tags, summary: 'Search lines', body: SearchBody, response: { 200: Page(LineSchema) } },
    },
    (req) => services.lines.search(req.body, callerOf(req)),
  );
  listRoute(app, {
    url: '/lines',
    tags,
    summary: 'List lines (yours, unless admin), a page at a time',
    preHandler: auth.any,
    item: LineSchema,
    softDeleted: true,
    filters: { name: TextFilter('name', 'the line’s name') },
    search: (request, req) => services.lines.search(request, callerOf(req)),
  });
  app.patch(
    '/lines/:id',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Change a line: name, settings, queue, operators, groups, bot (admin)',
        params: IdParams,
        body: Type.Object({ name: Type.Optional(Name), ...LineBody }, { additionalProperties: false }),
        response: { 200: LineSchema },
      },
    },
    (req) => services.lines.update(req.params.id, req.body),
  );
  app.delete(
    '/lines/:id',
    {
      preHandler: admin,
      schema: { tags, summary: 'Delete a line (admin)', params: IdParams, response: { 204: NoContent } },
    },
    async (req, reply) => {
      await services.lines.remove(req.params.id);
      return reply.status(204).send();
    },
  );
}

export function groupRoutes(app: App, { services, auth }: RouteContext): void {
  const admin = auth.require('admin');
  const tags = ['operator groups'];
  const Members = Type.Optional(Type.Array(Uuid, { maxItems: 10000 }));
  app.post(
    '/groups',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Create an operator group (admin)',
        body: Type.Object({ name: Name, memberIds: Members }, { additionalProperties: false }),
        response: { 201: GroupSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await services.groups.create(req.body)),
  );
  app.get(
    '/groups/:id',
    {
      preHandler: auth.any,
      schema: { tags, summary: 'An operator group', params: IdParams, response: { 200: GroupSchema } },
    },
    (req) => services.groups.get(req.params.id),
  );
  app.post(
    '/groups/search',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'Search operator groups',
        body: SearchBody,
        response: { 200: Page(GroupSchema) },
      },
    },
    (req) => services.groups.search(req.body),
  );
  listRoute(app, {
    url: '/groups',
    tags,
    summary: 'List operator groups, a page at a time',
    preHandler: auth.any,
    item: GroupSchema,
    softDeleted: true,
    filters: { name: TextFilter('name', 'the group’s name') },
    search: (request) => services.groups.search(request),
  });
  app.patch(
    '/groups/:id',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Change an operator group: its name and members (admin)',
        params: IdParams,
        body: Type.Object({ name: Type.Optional(Name), memberIds: Members }, { additionalProperties: false }),
        response: { 200: GroupSchema },
      },
    },
    (req) => services.groups.update(req.params.id, req.body),
  );
  app.delete(
    '/groups/:id',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Delete an operator group (admin)',
        params: IdParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await services.groups.remove(req.params.id);
      return reply.status(204).send();
    },
  );
}

export function botRoutes(app: App, { services, auth }: RouteContext): void {
  const admin = auth.require('admin');
  const tags = ['bots'];
  const Settings = Type.Optional(
    FreeForm('Bot settings: the webhook and its signing secret (write-only).', {
      webhookUrl: Type.Optional(Nullable(Type.String({ format: 'uri', maxLength: 2000 }))),
      secret: Type.Optional(Nullable(Type.String({ minLength: 16, maxLength: 500 }))),
    }),
  );
  app.post(
    '/bots',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Create a bot: it receives its sessions’ client messages at its webhook (admin)',
        body: Type.Object({ name: Name, settings: Settings }, { additionalProperties: false }),
        response: { 201: BotSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await services.bots.create(req.body)),
  );
  app.post(
    '/bots/:id/tokens',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Issue an API token the bot acts with (reply, hand over, close its sessions); shown once',
        params: IdParams,
        response: { 201: Type.Object({ token: Type.String() }) },
      },
    },
    async (req, reply) => {
      await services.bots.get(req.params.id);
      return reply.status(201).send({ token: await services.users.issueToken(req.params.id, 'bot', null) });
    },
  );
  app.get(
    '/bots/:id',
    {
      preHandler: auth.any,
      schema: { tags, summary: 'A bot (settings masked)', params: IdParams, response: { 200: BotSchema } },
    },
    (req) => services.bots.get(req.params.id),
  );
  app.post(
    '/bots/search',
    {
      preHandler: auth.any,
      schema: { tags, summary: 'Search bots', body: SearchBody, response: { 200: Page(BotSchema) } },
    },
    (req) => services.bots.search(req.body),
  );
  listRoute(app, {
    url: '/bots',
    tags,
    summary: 'List bots (settings masked), a page at a time',
    preHandler: auth.any,
    item: BotSchema,
    softDeleted: true,
    filters: { name: TextFilter('name', 'the bot’s name') },
    search: (request) => services.bots.search(request),
  });
  app.patch(
    '/bots/:id',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Change a bot: its name and settings (admin)',
        params: IdParams,
        body: Type.Object({ name: Type.Optional(Name), settings: Settings }, { additionalProperties: false }),
        response: { 200: BotSchema },
      },
    },
    (req) => services.bots.update(req.params.id, req.body),
  );
  app.delete(
    '/bots/:id',
    {
      preHandler: admin,
      schema: { tags, summary: 'Delete a bot (admin)', params: IdParams, response: { 204: NoContent } },
    },
    async (req, reply) => {
      await services.bots.remove(req.params.id);
      return reply.status(204).send();
    },
  );
}
