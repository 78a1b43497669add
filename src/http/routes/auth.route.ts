import { Type } from 'typebox';
import { callerOf } from '../plugins/auth.ts';
import type { App, RouteContext } from '../route-context.ts';
import { UserSchema } from '../schemas.ts';

export function authRoutes(app: App, { services, auth }: RouteContext): void {
  app.post(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in with a login and password; returns an API token',
        body: Type.Object(
          {
            login: Type.String({ minLength: 1, maxLength: 200 }),
            password: Type.String({ minLength: 1, maxLength: 500 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ token: Type.String(), user: UserSchema }) },
      },
    },
    (req) => services.users.login(req.body.login, req.body.password),
  );

  app.post(
    '/auth/logout',
    { preHandler: auth.any, schema: { tags: ['auth'], summary: 'Revoke the token of this request' } },
    async (req, reply) => {
      await services.users.logout(callerOf(req));
      return reply.status(204).send();
    },
  );

  app.get(
    '/me',
    {
      preHandler: auth.any,
      schema: { tags: ['auth'], summary: 'The authenticated user', response: { 200: UserSchema } },
    },
    (req) => services.users.get(callerOf(req).id),
  );
}
