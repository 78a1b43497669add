import { isIP } from 'node:net';
import { Type } from 'typebox';
import { InvalidField } from '../../errors.ts';
import { LoginLocked } from '../../security/login-guard.ts';
import { callerOf } from '../plugins/auth.ts';
import type { App, RouteContext } from '../route-context.ts';
import { ErrorAnswer, NoContent, UserSchema } from '../schemas.ts';

export function authRoutes(app: App, { services, auth, limits }: RouteContext): void {
  app.post(
    '/auth/login',
    {
      config: { rateLimit: limits.loginRateLimit() },
      schema: {
        tags: ['auth'],
        summary: 'Log in with a login and password; returns an API token',
        description:
          'Refused logins are counted per login and per client address; past the limit the login (or ' +
          'address) is locked for a while, doubling with each lock: 429 `LOGIN_LOCKED` with Retry-After, ' +
          'even for the right password. Too many requests from one address: 429 `TOO_MANY_REQUESTS`.',
        body: Type.Object(
          {
            login: Type.String({ minLength: 1, maxLength: 200 }),
            password: Type.String({ minLength: 1, maxLength: 500 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ token: Type.String(), user: UserSchema }),
          401: ErrorAnswer('Wrong login or password: `INVALID_CREDENTIALS`.'),
          403: ErrorAnswer('The user is blocked: `USER_BLOCKED`.'),
          429: ErrorAnswer(
            'The login or the address is locked (`LOGIN_LOCKED`, `details.scope`), or too many requests (`TOO_MANY_REQUESTS`); with Retry-After.',
          ),
        },
      },
    },
    async (req, reply) => {
      const { login, password } = req.body;
      try {
        return await limits.guard.attempt(
          login,
          req.ip,
          () => services.users.login(login, password),
          (reason) =>
            services.audit.loginRefused({ login, ip: req.ip, reason }).catch((err: unknown) => {
              req.log.error({ err }, 'audit: a refused login was not recorded');
            }),
        );
      } catch (err) {
        if (err instanceof LoginLocked) reply.header('retry-after', String(err.retryAfterSeconds));
        throw err;
      }
    },
  );

  app.post(
    '/auth/unlock',
    {
      preHandler: auth.require('admin'),
      schema: {
        tags: ['auth'],
        summary: 'Lift the login lock of a login and/or a client address (admin)',
        description:
          'Forgets the refused logins, the lock and the lock history of the login, the address, or ' +
          'both, on every node; recorded in the audit log as `login.unlocked`. E.g. ' +
          '`{"login":"anna"}` after a guessing attack locked a colleague out.',
        body: Type.Object(
          {
            login: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            ip: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IPv4 or IPv6' })),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      const { login, ip } = req.body;
      if (ip !== undefined && isIP(ip) === 0)
        throw new InvalidField('body.ip', 'must be an IPv4 or IPv6 address');
      await limits.guard.unlock({ login, ip });
      await services.audit.unlocked({ login, ip, by: callerOf(req).id });
      return reply.status(204).send();
    },
  );

  app.post(
    '/auth/logout',
    {
      preHandler: auth.any,
      schema: { tags: ['auth'], summary: 'Revoke the token of this request', response: { 204: NoContent } },
    },
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
