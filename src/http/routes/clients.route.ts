import { Type } from 'typebox';
import { callerOf } from '../plugins/auth.ts';
import type { App, RouteContext } from '../route-context.ts';
import {
  ApplicationItemSchema,
  ClientSchema,
  ContactSchema,
  ErrorAnswer,
  IdParams,
  NoContent,
  Nullable,
  Page,
  SearchBody,
  Uuid,
} from '../schemas.ts';
import { listRoute, TextFilter } from './collection-list.ts';

const Text = (max: number) => Type.Optional(Nullable(Type.String({ maxLength: max })));

export function clientRoutes(app: App, { services, auth }: RouteContext): void {
  const tags = ['clients'];
  app.get(
    '/clients/:id',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'A client (a messenger account)',
        params: IdParams,
        response: { 200: ClientSchema },
      },
    },
    (req) => services.clients.get(req.params.id, callerOf(req)),
  );
  app.post(
    '/clients/search',
    {
      preHandler: auth.any,
      schema: { tags, summary: 'Search clients', body: SearchBody, response: { 200: Page(ClientSchema) } },
    },
    (req) => services.clients.search(req.body, callerOf(req)),
  );
  listRoute(app, {
    url: '/clients',
    tags,
    summary: 'List clients (of your lines’ channels, unless admin), a page at a time',
    preHandler: auth.any,
    item: ClientSchema,
    softDeleted: true,
    filters: {
      channelId: { field: 'channelId', schema: Uuid },
      username: TextFilter('username', 'the messenger username'),
      externalId: TextFilter('externalId', 'the id in the messenger', 500),
      phone: TextFilter('phone', 'the phone number', 50),
      email: TextFilter('email', 'the e-mail address', 320),
      banned: { field: 'banned', schema: Type.Boolean() },
      online: { field: 'online', schema: Type.Boolean() },
    },
    search: (request, req) => services.clients.search(request, callerOf(req)),
  });
  app.patch(
    '/clients/:id',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary:
          "Change a client or link it to a CRM record (only of the application type chosen in the line's settings)",
        params: IdParams,
        body: Type.Object(
          {
            username: Text(200),
            firstName: Text(200),
            lastName: Text(200),
            phone: Text(50),
            email: Text(320),
            avatarUrl: Text(2000),
            banned: Type.Optional(Type.Boolean()),
            applicationItem: Type.Optional(Nullable(ApplicationItemSchema)),
          },
          { additionalProperties: false },
        ),
        response: {
          200: ClientSchema,
          422: ErrorAnswer(
            'The link does not fit: `APPLICATION_TYPE_NOT_ALLOWED` (not the line’s application type), `LINKED_RECORD_NOT_FOUND`.',
          ),
        },
      },
    },
    (req) => services.clients.update(req.params.id, req.body, callerOf(req)),
  );
}

export function contactRoutes(app: App, { services, auth }: RouteContext): void {
  const tags = ['contacts'];
  const Fields = {
    phones: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 50 })),
    emails: Type.Optional(Type.Array(Type.String({ format: 'email', maxLength: 320 }), { maxItems: 50 })),
    notes: Type.Optional(Nullable(Type.String({ maxLength: 20000 }))),
  };
  const Name = Type.String({ minLength: 1, maxLength: 300 });
  app.post(
    '/contacts',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'Create a contact (the built-in CRM record)',
        body: Type.Object({ name: Name, ...Fields }, { additionalProperties: false }),
        response: { 201: ContactSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await services.contacts.create(req.body)),
  );
  app.get(
    '/contacts/:id',
    {
      preHandler: auth.any,
      schema: { tags, summary: 'A contact', params: IdParams, response: { 200: ContactSchema } },
    },
    (req) => services.contacts.get(req.params.id, callerOf(req)),
  );
  app.post(
    '/contacts/search',
    {
      preHandler: auth.any,
      schema: { tags, summary: 'Search contacts', body: SearchBody, response: { 200: Page(ContactSchema) } },
    },
    (req) => services.contacts.search(req.body, callerOf(req)),
  );
  listRoute(app, {
    url: '/contacts',
    tags,
    summary: 'List contacts, a page at a time',
    preHandler: auth.any,
    item: ContactSchema,
    softDeleted: true,
    filters: {
      name: TextFilter('name', 'the contact’s name'),
      phone: TextFilter('phones', 'one of the contact’s phone numbers', 50),
      email: TextFilter('emails', 'one of the contact’s e-mail addresses', 320),
    },
    search: (request, req) => services.contacts.search(request, callerOf(req)),
  });
  app.patch(
    '/contacts/:id',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'Change a contact',
        params: IdParams,
        body: Type.Object({ name: Type.Optional(Name), ...Fields }, { additionalProperties: false }),
        response: { 200: ContactSchema },
      },
    },
    (req) => services.contacts.update(req.params.id, req.body, callerOf(req)),
  );
  app.delete(
    '/contacts/:id',
    {
      preHandler: auth.require('admin', 'supervisor'),
      schema: { tags, summary: 'Delete a contact', params: IdParams, response: { 204: NoContent } },
    },
    async (req, reply) => {
      await services.contacts.remove(req.params.id, callerOf(req));
      return reply.status(204).send();
    },
  );
  app.post(
    '/contacts/:id/merge',
    {
      preHandler: auth.require('admin', 'supervisor'),
      schema: {
        tags,
        summary: 'Merge another contact into this one; its clients are relinked here and it is soft-deleted',
        params: IdParams,
        body: Type.Object({ sourceId: Uuid }, { additionalProperties: false }),
        response: {
          200: Type.Object({ contact: ContactSchema, relinkedClients: Type.Integer() }),
          409: ErrorAnswer('A contact cannot be merged into itself: `MERGE_WITH_ITSELF`.'),
        },
      },
    },
    (req) => services.contacts.merge(req.params.id, req.body.sourceId, callerOf(req)),
  );
}
