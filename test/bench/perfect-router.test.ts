/** The routing benchmark's perfect router: the floor it reports for the spread must be computed right. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { perfectRouterSpread } from '../../bench/lib/routing.ts';

const histogram = (t: { counts: Record<string, number> }) => t.counts;

describe('perfectRouterSpread', () => {
  it('assigns to the least loaded (ties: idle longest) and lets closes widen the spread', () => {
    // Two operators. s1 → op0; s2 → op1; s3 → op0 (tie, op0 idle longer); s4 → op1: loads 2 and 2.
    // s2 and s4 close at 11 and 13: loads 2 and 0, a spread of 2 no router could have prevented.
    const { afterEachAssignment, samples } = perfectRouterSpread(
      [
        { openedAt: 0, holdMs: 1000 },
        { openedAt: 1, holdMs: 10 },
        { openedAt: 2, holdMs: 1000 },
        { openedAt: 3, holdMs: 10 },
      ],
      2,
      10,
      { from: 0, to: 40 },
      20,
    );
    assert.deepEqual(histogram(afterEachAssignment), { 0: 2, 1: 2 });
    assert.deepEqual(histogram(samples), { 2: 2 });
  });

  it('queues sessions while every operator is full and gives them the first slot a close frees', () => {
    // Three operators of capacity 2 take s1…s6 (op0: s1, s4; op1: s2, s5; op2: s3, s6); s7 waits.
    // s1 closes at 10 and s7 takes op0; s2, s3, s4 close at 20, 21, 30: loads 1, 1, 1 at 35.
    // Had s7 been dropped rather than queued, op0 would be at 0 then: a spread of 1.
    const holds = [10, 19, 19, 27, 1000, 1000, 1000];
    const { afterEachAssignment, samples } = perfectRouterSpread(
      holds.map((holdMs, i) => ({ openedAt: i, holdMs })),
      3,
      2,
      { from: 0, to: 35 },
      35,
    );
    assert.deepEqual(histogram(afterEachAssignment), { 0: 2, 1: 2 });
    assert.deepEqual(histogram(samples), { 0: 1 });
  });

  it('keeps the spread within one when nothing closes', () => {
    const sessions = Array.from({ length: 50 }, (_, i) => ({ openedAt: i, holdMs: 1e9 }));
    const { afterEachAssignment } = perfectRouterSpread(sessions, 7, 10, { from: 0, to: 60 }, 10);
    assert.equal(afterEachAssignment.max, 1);
    assert.equal(afterEachAssignment.samples, 50);
  });
});
