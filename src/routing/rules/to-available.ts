import type { RoutingRule } from '../rule.ts';

/**
 * "To an available agent" (ForFree): the operator with the fewest open sessions; ties go to the one
 * who has waited longest since their last assignment (never assigned counts as longest).
 */
export const toAvailableRule: RoutingRule = {
  name: 'toAvailable',
  mode: 'assign',
  pickOperators(_session, _queue, ctx) {
    const best = [...ctx.candidates].sort(
      (a, b) =>
        a.open - b.open ||
        (a.lastAssignedAt?.getTime() ?? 0) - (b.lastAssignedAt?.getTime() ?? 0) ||
        a.id.localeCompare(b.id),
    )[0];
    return best ? [best.id] : [];
  },
};
