/**
 * Bearer-token authentication and role checks, as preHandlers routes opt into:
 *   { preHandler: auth.require('admin', 'supervisor') }
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
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
    any: async (request) => {
      await authenticate(request);
    },
    require:
      (...roles) =>
      async (request) => {
        const caller = await authenticate(request);
        if (!roles.includes(caller.role)) throw new Forbidden(`requires role ${roles.join(' or ')}`);
      },
  };
}

/** The caller of a route behind a guard. */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new Unauthorized();
  return request.caller;
}
