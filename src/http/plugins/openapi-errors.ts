/**
 * The error responses of every operation in the OpenAPI document, derived from the route itself so
 * they cannot drift: an `onRoute` hook adds, in the one error shape (schemas.ts `ErrorAnswer`),
 *
 *   400  always (the input guard reads every body, query string and path; schemas check the rest)
 *   401, 403  on routes behind an auth guard
 *   404  on routes with path parameters
 *   413, 415  on routes that take a body (415 not on webhooks: they take any content type)
 *   429  under the request limits (the API and the webhooks)
 *   503  always (the database is unavailable)
 *
 * A route documents what only it knows — 409 and 422 with their codes, a 401 or 403 of its own, a
 * 404 for an id in its body — in its `response`; a status a route declares is left as it is.
 */
import type { FastifyInstance } from 'fastify';
import { ErrorAnswer, ErrorResponse } from '../schemas.ts';
import { isGuarded } from './auth.ts';

export const ERROR_STATUS_MEANINGS = {
  400: 'The request is invalid: `VALIDATION_FAILED` with `details.errors[].path` naming each field (`body.name`, `querystring.limit`, `params.id`), `INVALID_JSON`, `EMPTY_JSON_BODY`, `BAD_URL`.',
  401: 'No valid token: `UNAUTHORIZED` (none sent), `INVALID_TOKEN` (unknown, revoked or expired).',
  403: 'The caller may not do this: `FORBIDDEN` (their role), `NOT_YOUR_SESSION`, …',
  404: 'Not found, or not visible to the caller: `<ENTITY>_NOT_FOUND` (`SESSION_NOT_FOUND`, …).',
  413: 'The body is larger than allowed: `PAYLOAD_TOO_LARGE`.',
  415: 'The body is not of a type the operation takes: `UNSUPPORTED_MEDIA_TYPE`.',
  429: 'Too many requests: `TOO_MANY_REQUESTS`, with `Retry-After`.',
  503: 'The database is unavailable: `DATABASE_UNAVAILABLE`, with `Retry-After: 1`; nothing was done.',
} as const;

type Status = keyof typeof ERROR_STATUS_MEANINGS;

/** Routes under a request limit (security/limits.ts): the API's and the webhooks'. */
const LIMITED = /^\/(api\/v1|webhooks)\//;

/** The error statuses a route answers by what it is (see the module comment). */
export function errorStatusesOf(route: {
  method: string | string[];
  url: string;
  preHandler?: unknown;
}): Status[] {
  const methods = ([] as string[]).concat(route.method);
  const out: Status[] = [400];
  if (isGuarded(route as Parameters<typeof isGuarded>[0])) out.push(401, 403);
  if (route.url.includes(':')) out.push(404);
  if (methods.some((m) => m === 'POST' || m === 'PUT' || m === 'PATCH')) {
    out.push(413);
    // Webhooks take any content type: their raw body goes to the provider as it came.
    if (!route.url.startsWith('/webhooks/')) out.push(415);
  }
  if (LIMITED.test(route.url)) out.push(429);
  out.push(503);
  return out;
}

export function documentErrorResponses(app: FastifyInstance): void {
  app.addSchema(ErrorResponse);
  app.addHook('onRoute', (route) => {
    const schema = (route.schema ?? {}) as { hide?: boolean; response?: Record<string, unknown> };
    if (schema.hide) return;
    const response = { ...schema.response };
    for (const status of errorStatusesOf(route)) {
      if (!Object.hasOwn(response, status)) response[status] = ErrorAnswer(ERROR_STATUS_MEANINGS[status]);
    }
    route.schema = { ...schema, response };
  });
}
