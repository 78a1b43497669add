/**
 * A custom routing rule, the guide's "Test rule" example: new chats go to the supervisor; operators
 * keep the chats already assigned to them (the router never re-routes a session that has an
 * operator, so only the "pick free operators" half needs code).
 *
 * Load it with OMNILINE_PLUGINS=./examples/supervisor-rule/index.ts and choose it on a line:
 *   PATCH /api/v1/lines/<id> {"queue": {"routingRule": "toSupervisor"}}
 */
import type { RoutingRule } from '../../src/routing/rule.ts';

export const toSupervisorRule: RoutingRule = {
  name: 'toSupervisor',
  // Offered: the supervisor gets the notification and access, and takes the chat by accepting it.
  mode: 'offer',
  pickOperators: (_session, _queue, ctx) =>
    ctx.candidates.filter((c) => c.role === 'supervisor').map((c) => c.id),
};

export const routingRules = [toSupervisorRule];
