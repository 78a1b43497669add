import { Type } from 'typebox';
import type { App, RouteContext } from '../route-context.ts';
import { Nullable, Page, SearchBody, Uuid } from '../schemas.ts';
import { listRoute, TextFilter } from './collection-list.ts';

const AuditSchema = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  action: Type.String({ description: '`login.failed` or `login.unlocked`' }),
  login: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  reason: Type.String({
    description:
      'login.failed: `invalid_credentials`, `user_blocked`, `login_locked` or `ip_locked`; login.unlocked: `by:<admin user id>`',
  }),
  userId: Nullable(Uuid),
});

export function auditRoutes(app: App, { services, auth }: RouteContext): void {
  app.post(
    '/audit/search',
    {
      preHandler: auth.require('admin'),
      schema: {
        tags: ['audit'],
        summary: 'The security audit log: refused logins and unlocks, newest first (admin)',
        description:
          'Fields: `id`, `at`, `action`, `login`, `ip`, `reason`, `userId` (the user the login names, ' +
          'if any). E.g. `{"where":{"and":[{"field":"login","op":"eq","value":"admin"},' +
          '{"field":"at","op":"gte","value":"2026-01-01T00:00:00Z"}]}}`.',
        body: SearchBody,
        response: { 200: Page(AuditSchema) },
      },
    },
    (req) => services.audit.search(req.body),
  );
  listRoute(app, {
    url: '/audit',
    tags: ['audit'],
    summary: 'The security audit log, newest first, a page at a time (admin)',
    preHandler: auth.require('admin'),
    item: AuditSchema,
    filters: {
      action: TextFilter('action', 'the action, `login.failed`', 100),
      login: TextFilter('login', 'the login tried', 100),
      ip: TextFilter('ip', 'the address it came from', 100),
      reason: TextFilter('reason', 'why it was refused', 100),
      userId: { field: 'userId', schema: Uuid },
    },
    search: (request) => services.audit.search(request),
  });
}
