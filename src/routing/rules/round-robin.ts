import type { RoutingRule } from '../rule.ts';

/** Rotation: the next online operator under capacity after the one who got the line's last session. */
export const roundRobinRule: RoutingRule = {
  name: 'roundRobin',
  mode: 'assign',
  pickOperators(_session, _queue, ctx) {
    const ids = ctx.candidates.map((c) => c.id).sort();
    if (ids.length === 0) return [];
    const last = ctx.lastRoutedOperatorId;
    const next = last ? (ids.find((id) => id > last) ?? ids[0]!) : ids[0]!;
    return [next];
  },
};
