import type { RoutingRule } from '../rule.ts';

/** "To all agents" (ForEveryone): offered to every online operator under capacity; the first to accept takes it. */
export const toAllRule: RoutingRule = {
  name: 'toAll',
  mode: 'offer',
  pickOperators: (_session, _queue, ctx) => ctx.candidates.map((c) => c.id),
};
