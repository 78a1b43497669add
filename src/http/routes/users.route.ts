import { Type } from 'typebox';
import { ROLES, STAFF_ROLES } from '../../domain/user/user.ts';
import { callerOf } from '../plugins/auth.ts';
import type { App, RouteContext } from '../route-context.ts';
import { Enum, ErrorAnswer, IdParams, NoContent, Page, SearchBody, UserSchema } from '../schemas.ts';
import { listRoute, TextFilter } from './collection-list.ts';

const Password = Type.String({ minLength: 8, maxLength: 500 });
const Name = Type.String({ minLength: 1, maxLength: 200 });
/** A user as the caller may see them: the fields other than id, name and role are for admins. */
const StaffSchema = Type.Object({
  ...Type.Partial(UserSchema).properties,
  id: UserSchema.properties.id,
  name: UserSchema.properties.name,
  role: UserSchema.properties.role,
});

export function userRoutes(app: App, { services, auth }: RouteContext): void {
  const tags = ['users'];
  app.post(
    '/users',
    {
      preHandler: auth.require('admin'),
      schema: {
        tags,
        summary: 'Create a staff user (admin)',
        body: Type.Object(
          {
            login: Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\s]+$' }),
            name: Name,
            role: Enum(STAFF_ROLES),
            password: Password,
          },
          { additionalProperties: false },
        ),
        response: { 201: UserSchema, 409: ErrorAnswer('The login is taken: `LOGIN_TAKEN`.') },
      },
    },
    async (req, reply) => reply.status(201).send(await services.users.create(req.body)),
  );
  const scope =
    'Admins see every user, whole. Supervisors and operators see only themselves and the staff of ' +
    'their lines, as `{id, name, role}` (no login, blocked flag or times; search by those fields only).';
  app.get(
    '/users/:id',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'A staff user (whole for admins; id, name and role for others)',
        description: scope,
        params: IdParams,
        response: { 200: StaffSchema },
      },
    },
    (req) => services.users.getFor(req.params.id, callerOf(req)),
  );
  app.post(
    '/users/search',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'Search staff users',
        description: scope,
        body: SearchBody,
        response: { 200: Page(StaffSchema) },
      },
    },
    (req) => services.users.search(req.body, callerOf(req)),
  );
  listRoute(app, {
    url: '/users',
    tags,
    summary: 'List staff users, a page at a time',
    description: `${scope} So \`login\`, \`blocked\` and \`deleted\` filter for admins only.`,
    preHandler: auth.any,
    item: StaffSchema,
    softDeleted: true,
    filters: {
      role: { field: 'role', schema: Enum(ROLES) },
      name: TextFilter('name', 'the user’s name'),
      login: TextFilter('login', 'the login', 100),
      blocked: { field: 'blocked', schema: Type.Boolean() },
    },
    search: (request, req) => services.users.search(request, callerOf(req)),
  });
  app.patch(
    '/users/:id',
    {
      preHandler: auth.require('admin'),
      schema: {
        tags,
        summary: 'Change a user; blocking revokes their tokens (admin)',
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(Name),
            role: Type.Optional(Enum(STAFF_ROLES)),
            password: Type.Optional(Password),
            blocked: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: UserSchema },
      },
    },
    (req) => services.users.update(req.params.id, req.body),
  );
  app.delete(
    '/users/:id',
    {
      preHandler: auth.require('admin'),
      schema: {
        tags,
        summary: 'Delete a user; their tokens stop working (admin)',
        params: IdParams,
        response: { 204: NoContent, 409: ErrorAnswer('You cannot delete yourself: `CANNOT_DELETE_SELF`.') },
      },
    },
    async (req, reply) => {
      await services.users.remove(req.params.id, callerOf(req));
      return reply.status(204).send();
    },
  );
  app.post(
    '/users/:id/tokens',
    {
      preHandler: auth.require('admin'),
      schema: {
        tags,
        summary: 'Issue a long-lived API token for a user (integrations, bots); shown once (admin)',
        params: IdParams,
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100 }) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ token: Type.String() }) },
      },
    },
    async (req, reply) => {
      await services.users.get(req.params.id);
      return reply
        .status(201)
        .send({ token: await services.users.issueToken(req.params.id, req.body.name, null) });
    },
  );
}
