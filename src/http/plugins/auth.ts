/**
 * Bearer-token authentication and role checks, as preHandlers routes opt into:
 *   { preHandler: auth.require('admin', 'supervisor') }
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { UserService } from '../../domain/user/user.service.ts';
import type { Caller, Role } from '../../domain/user/user.ts';
import { Forbidden, Unauthorized } from '../../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

export type Guard = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface Auth {
  /** Any authenticated staff user. */
  any: Guard;
  require(...roles: Role[]): Guard;
}

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m?.[1] ?? null;
}

/** Every guard made here: a route with none of them in its preHandlers is public. */
const guards = new WeakSet<Guard>();
const guard = (fn: Guard): Guard => {
  guards.add(fn);
  return fn;
};

/**
 * Marks each operation that no guard protects as public in the OpenAPI document (`security: []`
 * overrides the document's bearer default), so the document says which operations need a token
 * from the routes themselves. A route that sets its own `security` keeps it.
 */
export function markPublicRoutes(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const schema = route.schema as { hide?: boolean; security?: unknown } | undefined;
    if (schema?.hide || schema?.security !== undefined) return;
    if (isGuarded(route)) return;
    route.schema = { ...schema, security: [] };
  });
}

/** Whether one of the route's preHandlers is an auth guard (it answers 401 and 403). */
export function isGuarded(route: Pick<RouteOptions, 'preHandler'>): boolean {
  const pre = route.preHandler;
  const handlers = Array.isArray(pre) ? pre : pre ? [pre] : [];
  return handlers.some((h) => guards.has(h as Guard));
}

export function createAuth(users: UserService): Auth {
  const authenticate = async (request: FastifyRequest): Promise<Caller> => {
    const token = bearerToken(request.headers.authorization);
    if (!token)
      throw new Unauthorized(
        'send "Authorization: Bearer <token>"; get a token from POST /api/v1/auth/login',
      );
    request.caller = await users.authenticate(token);
    return request.caller;
  };
  return {
    any: guard(async (request) => {
      await authenticate(request);
    }),
    require: (...roles) =>
      guard(async (request) => {
        const caller = await authenticate(request);
        if (!roles.includes(caller.role)) throw new Forbidden(`requires role ${roles.join(' or ')}`);
      }),
  };
}

/** The caller of a route behind a guard. */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new Unauthorized();
  return request.caller;
}
