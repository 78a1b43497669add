import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChannelType } from '../channel/channel.ts';
import type { SessionState } from './session.ts';
import { InvalidTransition, type SessionEvent, type SessionSnapshot, transition } from './session-machine.ts';

const now = new Date('2026-01-01T10:00:00Z');
const operator = { type: 'operator', id: 'op-1' } as const;

function snapshot(state: SessionState, extra: Partial<SessionSnapshot> = {}): SessionSnapshot {
  return {
    state,
    operatorId: null,
    operatorGroupId: null,
    botId: null,
    operatorAssignedAt: null,
    closedAt: null,
    closedBy: null,
    acceptedAt: null,
    previousOperatorId: null,
    firstAssignedAt: null,
    queuedAt: null,
    offeredTo: [],
    offeredAt: null,
    ...extra,
  };
}

function run(
  state: SessionState,
  event: SessionEvent,
  ctx: { channelType?: ChannelType; isLastInChain?: boolean } = {},
) {
  return transition(snapshot(state), event, {
    channelType: ctx.channelType ?? 'telegramBot',
    isLastInChain: ctx.isLastInChain ?? true,
    now,
  });
}

function expectOk(result: ReturnType<typeof run>) {
  assert.ok(
    !(result instanceof InvalidTransition),
    `expected a transition, got ${(result as Error).message}`,
  );
  return result;
}

function expectRefused(result: ReturnType<typeof run>, code: string) {
  assert.ok(result instanceof InvalidTransition, 'expected a refusal');
  assert.equal(result.code, code);
  assert.equal(result.status, 409);
}

describe('session state machine', () => {
  it('assigns a waiting session to an operator and stamps operatorAssignedAt', () => {
    const r = expectOk(run('Waiting', { type: 'assignOperator', operatorId: 'op-1' }));
    assert.equal(r.state, 'AssignedToOperator');
    assert.equal(r.patch.operatorId, 'op-1');
    assert.equal(r.patch.operatorAssignedAt, now);
    assert.equal(r.changed, true);
  });

  it('treats assigning the same operator again as no change', () => {
    const r = transition(
      snapshot('AssignedToOperator', { operatorId: 'op-1', acceptedAt: now }),
      { type: 'assignOperator', operatorId: 'op-1' },
      { channelType: 'api', isLastInChain: true, now },
    );
    assert.ok(!(r instanceof InvalidTransition));
    assert.equal(r.changed, false);
  });

  it('moves a session from an operator to a bot and clears the operator', () => {
    const r = expectOk(
      transition(
        snapshot('AssignedToOperator', { operatorId: 'op-1' }),
        { type: 'assignBot', botId: 'bot-1' },
        {
          channelType: 'api',
          isLastInChain: true,
          now,
        },
      ),
    );
    assert.equal(r.state, 'AssignedToBot');
    assert.equal(r.patch.operatorId, null);
    assert.equal(r.patch.botId, 'bot-1');
  });

  it('puts a session assigned to a group back in the queue of that group', () => {
    const r = expectOk(run('AssignedToBot', { type: 'assignGroup', groupId: 'g-1' }));
    assert.equal(r.state, 'Waiting');
    assert.equal(r.patch.operatorGroupId, 'g-1');
  });

  it('returns a bot session to the queue on enqueue', () => {
    assert.equal(expectOk(run('AssignedToBot', { type: 'enqueue' })).state, 'Waiting');
  });

  it('starts a new stay in the queue: the operator is remembered, the last offer forgotten', () => {
    const offeredAt = new Date('2026-01-01T00:00:00Z');
    for (const event of [{ type: 'enqueue' }, { type: 'assignGroup', groupId: 'g-1' }] as const) {
      const r = expectOk(
        transition(
          snapshot('AssignedToOperator', { operatorId: 'op-1', offeredAt, acceptedAt: offeredAt }),
          event,
          {
            channelType: 'api',
            isLastInChain: true,
            now,
          },
        ),
      );
      assert.equal(r.state, 'Waiting');
      assert.equal(r.patch.offeredAt, null, event.type);
      assert.equal(r.patch.operatorId, null);
      assert.equal(r.patch.previousOperatorId, 'op-1');
      assert.equal(r.patch.queuedAt, now);
    }
  });

  for (const state of ['Waiting', 'AssignedToBot', 'AssignedToOperator'] as const) {
    it(`closes a ${state} session and records who closed it`, () => {
      const r = expectOk(run(state, { type: 'close', by: operator }));
      assert.equal(r.state, 'Closed');
      assert.equal(r.patch.closedAt, now);
      assert.deepEqual(r.patch.closedBy, operator);
    });
  }

  it('refuses to close a closed session', () => {
    expectRefused(run('Closed', { type: 'close', by: operator }), 'SESSION_ALREADY_CLOSED');
  });

  for (const event of [
    { type: 'assignOperator', operatorId: 'op-1' },
    { type: 'assignBot', botId: 'b' },
    { type: 'assignGroup', groupId: 'g' },
    { type: 'enqueue' },
  ] as const) {
    it(`never reopens a closed or spam session with ${event.type}`, () => {
      expectRefused(run('Closed', event), 'SESSION_CLOSED');
      expectRefused(run('MarkedAsSpam', event), 'SESSION_MARKED_AS_SPAM');
    });
  }

  it('marks an open session as spam, closing it', () => {
    const r = expectOk(run('AssignedToOperator', { type: 'markAsSpam', by: operator }));
    assert.equal(r.state, 'MarkedAsSpam');
    assert.equal(r.patch.closedAt, now);
  });

  it('marks an already closed session as spam, keeping its close time', () => {
    const closedAt = new Date('2025-12-31T00:00:00Z');
    const r = transition(
      snapshot('Closed', { closedAt, closedBy: operator }),
      { type: 'markAsSpam', by: { type: 'operator', id: 'op-2' } },
      { channelType: 'api', isLastInChain: true, now },
    );
    assert.ok(!(r instanceof InvalidTransition));
    assert.equal(r.patch.closedAt, closedAt);
    assert.deepEqual(r.patch.closedBy, operator);
  });

  for (const channelType of ['internal', 'support'] as const) {
    it(`refuses spam for ${channelType} channels`, () => {
      expectRefused(
        run('Waiting', { type: 'markAsSpam', by: operator }, { channelType }),
        'SPAM_NOT_ALLOWED_FOR_CHANNEL_TYPE',
      );
    });
  }

  it('refuses to mark a spam session as spam again', () => {
    expectRefused(run('MarkedAsSpam', { type: 'markAsSpam', by: operator }), 'SESSION_ALREADY_SPAM');
  });

  it('unmarks the last session of the chain back to Closed', () => {
    assert.equal(
      expectOk(run('MarkedAsSpam', { type: 'unmarkAsSpam' }, { isLastInChain: true })).state,
      'Closed',
    );
  });

  it('refuses to unmark a session that is not the last of its chain', () => {
    expectRefused(
      run('MarkedAsSpam', { type: 'unmarkAsSpam' }, { isLastInChain: false }),
      'UNMARK_SPAM_NOT_LAST_IN_CHAIN',
    );
  });

  it('unmarks any session of an inbox channel, last in chain or not', () => {
    const r = expectOk(
      run('MarkedAsSpam', { type: 'unmarkAsSpam' }, { isLastInChain: false, channelType: 'inbox' }),
    );
    assert.equal(r.state, 'Closed');
  });

  it('reserves a session for an operator until they accept it', () => {
    const reserved = expectOk(
      run('Waiting', { type: 'assignOperator', operatorId: 'op-1', accepted: false }),
    );
    assert.equal(reserved.patch.acceptedAt, null);
    const accepted = transition(
      snapshot('AssignedToOperator', { operatorId: 'op-1' }),
      { type: 'accept', operatorId: 'op-1' },
      { channelType: 'api', isLastInChain: true, now },
    );
    assert.ok(!(accepted instanceof InvalidTransition));
    assert.equal(accepted.patch.acceptedAt, now);
    assert.equal(accepted.changed, true);
  });

  it('refuses to accept a session another operator has', () => {
    const r = transition(
      snapshot('AssignedToOperator', { operatorId: 'op-2', acceptedAt: now }),
      { type: 'accept', operatorId: 'op-1' },
      { channelType: 'api', isLastInChain: true, now },
    );
    assert.ok(r instanceof InvalidTransition);
    assert.equal(r.code, 'SESSION_ALREADY_ACCEPTED');
  });

  it('accepts an offered waiting session, keeping the first assignment time', () => {
    const r = expectOk(run('Waiting', { type: 'accept', operatorId: 'op-1' }));
    assert.equal(r.state, 'AssignedToOperator');
    assert.equal(r.patch.acceptedAt, now);
    assert.equal(r.patch.firstAssignedAt, now);
  });

  it('remembers the previous operator on a transfer and when the session goes back to the queue', () => {
    const t = transition(
      snapshot('AssignedToOperator', { operatorId: 'op-1', acceptedAt: now }),
      { type: 'assignOperator', operatorId: 'op-2' },
      { channelType: 'api', isLastInChain: true, now },
    );
    assert.ok(!(t instanceof InvalidTransition));
    assert.equal(t.patch.previousOperatorId, 'op-1');
    const q = transition(
      snapshot('AssignedToOperator', { operatorId: 'op-2' }),
      { type: 'enqueue' },
      { channelType: 'api', isLastInChain: true, now },
    );
    assert.ok(!(q instanceof InvalidTransition));
    assert.equal(q.patch.previousOperatorId, 'op-2');
    assert.equal(q.patch.queuedAt, now);
  });

  it('refuses to unmark a session that is not spam', () => {
    expectRefused(run('Closed', { type: 'unmarkAsSpam' }), 'SESSION_NOT_SPAM');
  });
});
