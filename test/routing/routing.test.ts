import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { sessionRepository } from '../../src/domain/session/session.repository.ts';
import { loadPlugins } from '../../src/plugins.ts';
import { signApiBody } from '../../src/providers/api/api.provider.ts';
import { ApiCallbackServer } from '../fakes/api-callback.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, createUser, openSession, unique } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { apiWebhook, clientMessage } from '../helpers/webhooks.ts';

type User = Awaited<ReturnType<typeof createUser>>;

async function online(ctx: TestContext, user: User, maxSessions?: number) {
  const res = await ctx.request('PUT', '/api/v1/me/status', {
    token: user.token,
    body: { status: 'online', maxSessions },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

async function team(
  ctx: TestContext,
  n: number,
  queue: Record<string, unknown> = {},
  opts: { online?: boolean } = {},
) {
  const ops: User[] = [];
  for (let i = 0; i < n; i++) ops.push(await createUser(ctx, 'operator'));
  const line = await createLine(ctx, { operatorIds: ops.map((o) => o.id), queue });
  const channel = await createChannel(ctx, line.id, 'api');
  if (opts.online !== false) for (const o of ops) await online(ctx, o);
  return { ops, line, channel };
}

const session = async (ctx: TestContext, id: string) =>
  (await ctx.request('GET', `/api/v1/sessions/${id}`)).body;
const route = (ctx: TestContext, id: string) => ctx.platform.router.route(id);

describeEachDatabase('routing', (ctx) => {
  it('gives a session to the online operator with the fewest open sessions', async () => {
    const { ops, channel } = await team(ctx(), 3);
    const [a, b, c] = ops as [User, User, User];
    const s1 = await openSession(ctx(), channel.id);
    const s2 = await openSession(ctx(), channel.id);
    const s3 = await openSession(ctx(), channel.id);
    const s4 = await openSession(ctx(), channel.id);
    for (const s of [s1, s2, s3, s4]) assert.equal(await route(ctx(), s.id), 'assigned');
    const owners = await Promise.all(
      [s1, s2, s3, s4].map(async (s) => (await session(ctx(), s.id)).operatorId),
    );
    // One each first (never-assigned operators count as waiting longest), then the one idle longest.
    assert.deepEqual(new Set(owners.slice(0, 3)), new Set([a.id, b.id, c.id]));
    assert.equal(owners[3], owners[0]);
  });

  it('routes only to online operators and says operatorNotFound once when nobody qualifies', async () => {
    const { ops, channel } = await team(ctx(), 2, {}, { online: false });
    await ctx().request('PUT', '/api/v1/me/status', { token: ops[0]!.token, body: { status: 'busy' } });
    const seen: string[] = [];
    const off = ctx().services.deps.bus.on('session.operatorNotFound', (e) => seen.push(e.payload.sessionId));
    const s = await openSession(ctx(), channel.id);
    assert.equal(await route(ctx(), s.id), 'waiting');
    assert.equal(await route(ctx(), s.id), 'waiting');
    off();
    assert.deepEqual(seen, [s.id]);
    assert.equal((await session(ctx(), s.id)).state, 'Waiting');
    await online(ctx(), ops[1]!);
    assert.equal(await route(ctx(), s.id), 'assigned');
    assert.equal((await session(ctx(), s.id)).operatorId, ops[1]!.id);
  });

  it('tells every session queued behind a full line that nobody is available, once each', async () => {
    const { channel, line } = await team(ctx(), 1, { maxSessionsPerOperator: 1 });
    assert.equal(await route(ctx(), (await openSession(ctx(), channel.id)).id), 'assigned');
    const seen: string[] = [];
    const off = ctx().services.deps.bus.on('session.operatorNotFound', (e) => seen.push(e.payload.sessionId));
    const queued = [];
    for (let i = 0; i < 3; i++) queued.push((await openSession(ctx(), channel.id)).id);
    await ctx().platform.router.drainLine(line.id);
    await ctx().platform.router.drainLine(line.id);
    off();
    assert.deepEqual([...seen].sort(), [...queued].sort());
  });

  it('never exceeds an operator’s capacity (queue default or their own)', async () => {
    const { ops, channel } = await team(ctx(), 2, { maxSessionsPerOperator: 2 });
    await online(ctx(), ops[1]!, 1);
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await route(ctx(), (await openSession(ctx(), channel.id)).id));
    assert.deepEqual(outcomes, ['assigned', 'assigned', 'assigned', 'waiting', 'waiting']);
    const me0 = await ctx().request('GET', '/api/v1/me/sessions', { token: ops[0]!.token });
    const me1 = await ctx().request('GET', '/api/v1/me/sessions', { token: ops[1]!.token });
    assert.equal(me0.body.items.length, 2);
    assert.equal(me0.body.total, 2);
    assert.equal(me1.body.items.length, 1);
  });

  it('serves the queue High, then Medium, then Low priority, then oldest first', async () => {
    const { ops, channel, line } = await team(ctx(), 1, { maxSessionsPerOperator: 1 }, { online: false });
    const low = await openSession(ctx(), channel.id);
    const old = await openSession(ctx(), channel.id);
    const young = await openSession(ctx(), channel.id);
    const high = await openSession(ctx(), channel.id);
    await ctx().request('PATCH', `/api/v1/sessions/${low.id}`, { body: { priority: 'Low' } });
    await ctx().request('PATCH', `/api/v1/sessions/${high.id}`, { body: { priority: 'High' } });
    await online(ctx(), ops[0]!);
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      await ctx().platform.router.drainLine(line.id);
      const mine = (await ctx().request('GET', '/api/v1/me/sessions', { token: ops[0]!.token })).body.items;
      assert.equal(mine.length, 1);
      order.push(mine[0].id);
      await ctx().request('POST', `/api/v1/sessions/${mine[0].id}/close`, { token: ops[0]!.token });
    }
    assert.deepEqual(order, [high.id, old.id, young.id, low.id]);
  });

  it('rotates round-robin among online operators under capacity', async () => {
    const { ops, channel } = await team(ctx(), 3, { routingRule: 'roundRobin', maxSessionsPerOperator: 10 });
    const owners = [];
    for (let i = 0; i < 6; i++) {
      const s = await openSession(ctx(), channel.id);
      await route(ctx(), s.id);
      owners.push((await session(ctx(), s.id)).operatorId);
    }
    const sorted = ops.map((o) => o.id).sort();
    assert.deepEqual(owners, [...sorted, ...sorted]);
  });

  it('offers a session to every online operator with toAll; exactly one of two concurrent accepts wins', async () => {
    const { ops, channel } = await team(ctx(), 3, { routingRule: 'toAll' });
    const offers: string[][] = [];
    const off = ctx().services.deps.bus.on('session.offered', (e) => offers.push(e.payload.operatorIds));
    const s = await openSession(ctx(), channel.id);
    assert.equal(await route(ctx(), s.id), 'offered');
    off();
    assert.deepEqual(offers, [ops.map((o) => o.id).sort()]);
    const mine = await ctx().request('GET', '/api/v1/me/sessions', { token: ops[2]!.token });
    assert.equal(mine.body.items[0].offered, true);
    const [r1, r2] = await Promise.all([
      ctx().request('POST', `/api/v1/sessions/${s.id}/accept`, { token: ops[0]!.token }),
      ctx().request('POST', `/api/v1/sessions/${s.id}/accept`, { token: ops[1]!.token }),
    ]);
    assert.deepEqual([r1.status, r2.status].sort(), [200, 409]);
    const loser = r1.status === 409 ? r1 : r2;
    assert.equal(loser.body.error.code, 'SESSION_ALREADY_ACCEPTED');
    const winner = r1.status === 200 ? ops[0]! : ops[1]!;
    assert.equal((await session(ctx(), s.id)).operatorId, winner.id);
    const history = (await ctx().request('GET', `/api/v1/sessions/${s.id}/history`)).body.items;
    assert.equal(history.filter((h: { toState: string }) => h.toState === 'AssignedToOperator').length, 1);
  });

  it('returns a client to their previous operator when the queue says so', async () => {
    const { ops, channel } = await team(ctx(), 3, {
      returnToPreviousOperator: true,
      maxSessionsPerOperator: 10,
    });
    const account = unique('back').replace(/-/g, '_');
    const first = await openSession(ctx(), channel.id, account);
    await route(ctx(), first.id);
    const previous = (await session(ctx(), first.id)).operatorId;
    await ctx().request('POST', `/api/v1/sessions/${first.id}/close`);
    // Load the others so "fewest open sessions" would pick someone else.
    for (let i = 0; i < 2; i++) await route(ctx(), (await openSession(ctx(), channel.id)).id);
    const second = await openSession(ctx(), channel.id, account);
    await route(ctx(), second.id);
    assert.equal((await session(ctx(), second.id)).operatorId, previous);
    assert.ok(ops.some((o) => o.id === previous));
  });

  it('offers elsewhere when an operator lets the accept timeout pass', async () => {
    const { ops, channel } = await team(ctx(), 2, { acceptTimeoutSeconds: 30 });
    const s = await openSession(ctx(), channel.id);
    ctx().clock.set('2030-01-01T10:00:00Z');
    await route(ctx(), s.id);
    const first = await session(ctx(), s.id);
    assert.equal(first.state, 'AssignedToOperator');
    const firstOp = first.operatorId;
    const actions = await ctx().request('GET', `/api/v1/sessions/${s.id}/actions`, {
      token: ops.find((o) => o.id === firstOp)!.token,
    });
    assert.ok(actions.body.actions.includes('accept'));
    ctx().clock.advance(29_000);
    await ctx().platform.router.tick();
    assert.equal((await session(ctx(), s.id)).operatorId, firstOp, 'not yet');
    ctx().clock.advance(2_000);
    await ctx().platform.router.tick();
    const moved = await session(ctx(), s.id);
    assert.equal(moved.state, 'AssignedToOperator');
    assert.notEqual(moved.operatorId, firstOp);
    const other = ops.find((o) => o.id === moved.operatorId)!;
    assert.equal(
      (await ctx().request('POST', `/api/v1/sessions/${s.id}/accept`, { token: other.token })).status,
      200,
    );
    ctx().clock.advance(60_000);
    await ctx().platform.router.tick();
    assert.equal((await session(ctx(), s.id)).operatorId, other.id, 'an accepted session stays');
  });

  it('starts a new round when every operator has let a session pass, and tells the line’s staff', async () => {
    const { ops, channel } = await team(ctx(), 2, { acceptTimeoutSeconds: 30, completionTimeoutMinutes: 10 });
    const told: { sessionId: string; reason: string }[] = [];
    const off = ctx().services.deps.bus.on('session.operatorNotFound', (e) => told.push(e.payload));
    try {
      ctx().clock.set('2030-03-01T10:00:00Z');
      const s = await openSession(ctx(), channel.id);
      assert.equal(await route(ctx(), s.id), 'assigned');
      const first = (await session(ctx(), s.id)).operatorId;
      const second = ops.find((o) => o.id !== first)!.id;
      ctx().clock.advance(31_000);
      await ctx().platform.router.tick();
      assert.equal((await session(ctx(), s.id)).operatorId, second, 'offered to the other operator');
      assert.deepEqual(told, []);
      ctx().clock.advance(31_000);
      await ctx().platform.router.tick();
      // Both let it pass: a new round gives it to the first operator again, and the staff are told.
      const again = await session(ctx(), s.id);
      assert.equal(again.state, 'AssignedToOperator');
      assert.equal(again.operatorId, first);
      assert.deepEqual(told, [{ sessionId: s.id, lineId: again.lineId, reason: 'noneAccepted' }]);
      const [row] = await queryRows<{ declined_by: string[] }>(
        ctx().db,
        sql`SELECT declined_by FROM sessions WHERE id = ${s.id}`,
      );
      assert.deepEqual(row!.declined_by, [], 'the new round forgets who let it pass');
      // Rounds go on while nobody answers; the completion timeout never closes it meanwhile.
      for (let i = 0; i < 25; i++) {
        ctx().clock.advance(31_000);
        await ctx().platform.router.tick();
      }
      const later = await session(ctx(), s.id);
      assert.equal(later.state, 'AssignedToOperator', 'still offered, round after round');
      assert.ok(told.length >= 10, `told once per round (${told.length})`);
      const owner = ops.find((o) => o.id === later.operatorId)!;
      const accepted = await ctx().request('POST', `/api/v1/sessions/${s.id}/accept`, { token: owner.token });
      assert.equal(accepted.status, 200);
    } finally {
      off();
    }
  });

  it('never closes by the completion timeout a session nobody has answered', async () => {
    const { ops, channel } = await team(ctx(), 1, { completionTimeoutMinutes: 10 }, { online: false });
    ctx().clock.set('2030-02-01T10:00:00Z');
    const waiting = await openSession(ctx(), channel.id);
    assert.equal(await route(ctx(), waiting.id), 'waiting');
    ctx().clock.advance(11 * 60_000);
    await ctx().platform.router.tick();
    assert.equal((await session(ctx(), waiting.id)).state, 'Waiting', 'Waiting, never answered');
    await online(ctx(), ops[0]!);
    assert.equal(await route(ctx(), waiting.id), 'assigned');
    ctx().clock.advance(11 * 60_000);
    await ctx().platform.router.tick();
    assert.equal((await session(ctx(), waiting.id)).state, 'AssignedToOperator', 'assigned, not answered');
  });

  it('closes a session whose client stays silent past the completion timeout after an answer', async () => {
    const { ops, channel } = await team(ctx(), 1, { completionTimeoutMinutes: 10 });
    ctx().clock.set('2030-02-01T10:00:00Z');
    const s = await openSession(ctx(), channel.id);
    await route(ctx(), s.id);
    const reply = await ctx().request('POST', `/api/v1/sessions/${s.id}/messages`, {
      token: ops[0]!.token,
      body: { text: 'How can I help?' },
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    ctx().clock.advance(9 * 60_000);
    await ctx().platform.router.tick();
    assert.equal((await session(ctx(), s.id)).state, 'AssignedToOperator');
    ctx().clock.advance(2 * 60_000);
    await ctx().platform.router.tick();
    const closed = await session(ctx(), s.id);
    assert.equal(closed.state, 'Closed');
    assert.deepEqual(closed.closedBy, { type: 'system', id: null });
  });

  it('routes nothing outside business hours and auto-replies once', async () => {
    const callback = await ApiCallbackServer.start();
    try {
      const ops = [await createUser(ctx(), 'operator')];
      const line = await createLine(ctx(), {
        operatorIds: [ops[0]!.id],
        queue: {
          businessHours: {
            timezone: 'UTC',
            days: { mon: [['09:00', '18:00']] },
            autoReply: 'We open at 9:00 UTC.',
          },
        },
      });
      const channel = await createChannel(ctx(), line.id, 'api', {
        settings: { secret: 'test-api-secret-0123456789', callbackUrl: callback.url },
      });
      await online(ctx(), ops[0]!);
      ctx().clock.set('2030-01-06T20:00:00Z'); // a Sunday evening
      await apiWebhook(ctx(), channel.id, clientMessage('night-owl'));
      const [s] = (
        await ctx().request('POST', '/api/v1/sessions/search', {
          body: { where: { field: 'channelId', op: 'eq', value: channel.id } },
        })
      ).body.items;
      assert.equal(await route(ctx(), s.id), 'closedHours');
      assert.equal(await route(ctx(), s.id), 'closedHours');
      const page = (await ctx().request('GET', `/api/v1/sessions/${s.id}/messages`)).body.items;
      const replies = page.filter((m: { sender: { type: string } }) => m.sender.type === 'system');
      assert.equal(replies.length, 1);
      assert.equal(replies[0].text, 'We open at 9:00 UTC.');
      ctx().clock.set('2030-01-07T09:30:00Z'); // Monday morning
      assert.equal(await route(ctx(), s.id), 'assigned');
    } finally {
      await callback.close();
    }
  });

  it('routes a group-assigned session only among the group’s members', async () => {
    const { ops, channel } = await team(ctx(), 3);
    const group = (
      await ctx().request('POST', '/api/v1/groups', {
        body: { name: unique('vip'), memberIds: [ops[2]!.id] },
      })
    ).body;
    const s = await openSession(ctx(), channel.id);
    await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, { body: { groupId: group.id } });
    await route(ctx(), s.id);
    assert.equal((await session(ctx(), s.id)).operatorId, ops[2]!.id);
  });

  it('puts a blocked operator’s sessions back in the queue and makes them offline', async () => {
    const { ops, channel } = await team(ctx(), 1);
    const s = await openSession(ctx(), channel.id);
    await route(ctx(), s.id);
    await ctx().request('PATCH', `/api/v1/users/${ops[0]!.id}`, { body: { blocked: true } });
    await ctx().platform.workspace.release(ops[0]!.id, { requeue: true });
    const after = await session(ctx(), s.id);
    assert.equal(after.state, 'Waiting');
    assert.equal(after.operatorId, null);
    const [u] = await queryRows<{ status: string }>(
      ctx().db,
      sql`SELECT status FROM users WHERE id = ${ops[0]!.id}`,
    );
    assert.equal(u!.status, 'offline');
  });

  it('transfers a session to a colleague, keeping the previous operator', async () => {
    const { ops, channel } = await team(ctx(), 2);
    const s = await openSession(ctx(), channel.id);
    await route(ctx(), s.id);
    const owner = (await session(ctx(), s.id)).operatorId;
    const from = ops.find((o) => o.id === owner)!;
    const to = ops.find((o) => o.id !== owner)!;
    const res = await ctx().request('POST', `/api/v1/sessions/${s.id}/transfer`, {
      token: from.token,
      body: { operatorId: to.id },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.operatorId, to.id);
    const [row] = await queryRows<{ previous_operator_id: string }>(
      ctx().db,
      sql`SELECT previous_operator_id FROM sessions WHERE id = ${s.id}`,
    );
    assert.equal(row!.previous_operator_id, from.id);
    // The loads routing reads move with the session (users.open_sessions, kept by a trigger).
    const loads = await queryRows<{ id: string; open_sessions: number }>(
      ctx().db,
      sql`SELECT id, open_sessions FROM users WHERE id IN (${from.id}, ${to.id})`,
    );
    assert.deepEqual(Object.fromEntries(loads.map((l) => [l.id, l.open_sessions])), {
      [from.id]: 0,
      [to.id]: 1,
    });
    await ctx().request('POST', `/api/v1/sessions/${s.id}/close`, { token: to.token });
    const after = await queryRows<{ n: number }>(
      ctx().db,
      sql`SELECT open_sessions AS n FROM users WHERE id = ${to.id}`,
    );
    assert.equal(after[0]!.n, 0, 'a closed session leaves its operator');
  });

  it('counts unread chats and messages and clears them on read', async () => {
    const { ops, channel } = await team(ctx(), 1);
    const s = await openSession(ctx(), channel.id);
    await route(ctx(), s.id);
    const at = new Date();
    await sessionRepository.touchOnMessage(ctx().db, s.id, { direction: 'incoming', at, byOperator: false });
    await sessionRepository.touchOnMessage(ctx().db, s.id, { direction: 'incoming', at, byOperator: false });
    const unread = await ctx().request('GET', '/api/v1/me/unread', { token: ops[0]!.token });
    assert.deepEqual(unread.body, { chats: 1, messages: 2 });
    const read = await ctx().request('POST', `/api/v1/sessions/${s.id}/read`, { token: ops[0]!.token });
    assert.equal(read.body.unreadClientMessageCount, 0);
    assert.deepEqual((await ctx().request('GET', '/api/v1/me/unread', { token: ops[0]!.token })).body, {
      chats: 0,
      messages: 0,
    });
  });

  it('reports status, and logging out makes the operator offline', async () => {
    const op = await createUser(ctx(), 'operator');
    await online(ctx(), op);
    assert.equal(
      (await ctx().request('GET', '/api/v1/me/status', { token: op.token })).body.status,
      'online',
    );
    await ctx().platform.workspace.release(op.id, { requeue: false });
    const { token } = await ctx().services.users.login(op.login, 'password-123');
    assert.equal((await ctx().request('GET', '/api/v1/me/status', { token })).body.status, 'offline');
    const bad = await ctx().request('PUT', '/api/v1/me/status', { token, body: { status: 'sleeping' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.details.errors[0].path, 'body.status');
  });

  it('refuses unknown queue settings and rules with 400 naming them', async () => {
    const line = await createLine(ctx());
    const bad = await ctx().request('PATCH', `/api/v1/lines/${line.id}`, {
      body: { queue: { routingRule: 'toMars' } },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.details.errors[0].path, 'queue.routingRule');
    const hours = await ctx().request('PATCH', `/api/v1/lines/${line.id}`, {
      body: { queue: { businessHours: { timezone: 'Mars/Olympus', days: {} } } },
    });
    assert.equal(hours.body.error.details.errors[0].path, 'queue.businessHours.timezone');
    const extra = await ctx().request('PATCH', `/api/v1/lines/${line.id}`, {
      body: { queue: { colour: 'red' } },
    });
    assert.equal(extra.body.error.details.errors[0].path, 'queue.colour');
  });
});

describeEachDatabase(
  'routing with a custom rule from a plugin',
  (ctx) => {
    it('offers every new chat to the supervisor (the guide’s example rule)', async () => {
      const op = await createUser(ctx(), 'operator');
      const sup = await createUser(ctx(), 'supervisor');
      const line = await createLine(ctx(), {
        operatorIds: [op.id, sup.id],
        queue: { routingRule: 'toSupervisor' },
      });
      const channel = await createChannel(ctx(), line.id, 'api');
      await online(ctx(), op);
      await online(ctx(), sup);
      const s = await openSession(ctx(), channel.id);
      assert.equal(await route(ctx(), s.id), 'offered');
      const [row] = await queryRows<{ offered_to: string[] }>(
        ctx().db,
        sql`SELECT offered_to FROM sessions WHERE id = ${s.id}`,
      );
      assert.deepEqual(row!.offered_to, [sup.id]);
      assert.equal(
        (await ctx().request('POST', `/api/v1/sessions/${s.id}/accept`, { token: sup.token })).status,
        200,
      );
    });
  },
  { plugins: await loadPlugins(['./examples/supervisor-rule/index.ts']) },
);

describeEachDatabase(
  'routing in the background',
  (ctx) => {
    it('assigns a waiting session within a second of an operator freeing capacity', async () => {
      const { ops, channel } = await team(ctx(), 1, { maxSessionsPerOperator: 1 });
      const first = await openSession(ctx(), channel.id);
      await waitFor(
        async () => (await session(ctx(), first.id)).state === 'AssignedToOperator',
        3000,
        'the first assignment',
      );
      const second = await openSession(ctx(), channel.id);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await session(ctx(), second.id)).state, 'Waiting');
      await ctx().request('POST', `/api/v1/sessions/${first.id}/close`, { token: ops[0]!.token });
      const started = Date.now();
      await waitFor(
        async () => (await session(ctx(), second.id)).operatorId === ops[0]!.id,
        3000,
        'the queued session',
      );
      assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    });

    it('tells sessions queued while a line stays full that nobody is available, once each', async () => {
      const { channel } = await team(ctx(), 1, { maxSessionsPerOperator: 1 });
      const first = await openSession(ctx(), channel.id);
      await waitFor(
        async () => (await session(ctx(), first.id)).state === 'AssignedToOperator',
        3000,
        'the first assignment',
      );
      const told: string[] = [];
      const off = ctx().services.deps.bus.on('session.operatorNotFound', (e) =>
        told.push(e.payload.sessionId),
      );
      try {
        // The first wave fills the queue of a full line; the second arrives while it stays full.
        const queued: string[] = [];
        for (const wave of [3, 3]) {
          for (let i = 0; i < wave; i++) queued.push((await openSession(ctx(), channel.id)).id);
          await waitFor(
            async () => queued.every((id) => told.includes(id)),
            3000,
            'every queued session told',
          );
        }
        await ctx().platform.router.tick();
        assert.deepEqual([...told].sort(), [...queued].sort(), 'each queued session was told exactly once');
      } finally {
        off();
      }
    });

    it('gives a line’s new sessions to its bot, which replies and hands over through the API', async () => {
      const hook = await ApiCallbackServer.start();
      try {
        const secret = 'bot-webhook-secret-0123456789';
        const bot = (
          await ctx().request('POST', '/api/v1/bots', {
            body: { name: 'Greeter', settings: { webhookUrl: `${hook.url}/bot`, secret } },
          })
        ).body;
        const botToken = (await ctx().request('POST', `/api/v1/bots/${bot.id}/tokens`)).body.token;
        const op = await createUser(ctx(), 'operator');
        const line = await createLine(ctx(), { operatorIds: [op.id], botId: bot.id });
        const channel = await createChannel(ctx(), line.id, 'api', {
          settings: { secret: 'test-api-secret-0123456789', callbackUrl: `${hook.url}/out` },
        });
        await online(ctx(), op);
        await apiWebhook(ctx(), channel.id, clientMessage('bot-client', 'what are your hours?'));
        const [s] = (
          await ctx().request('POST', '/api/v1/sessions/search', {
            body: { where: { field: 'channelId', op: 'eq', value: channel.id } },
          })
        ).body.items;
        assert.equal(s.state, 'AssignedToBot');
        assert.equal(s.botId, bot.id);
        const delivered = await waitFor(
          () => hook.requests.find((r) => r.path === '/bot'),
          5000,
          'the bot webhook',
        );
        assert.equal(delivered.headers['x-omniline-signature'], signApiBody(secret, delivered.raw));
        assert.equal(delivered.body.message.text, 'what are your hours?');
        assert.equal(delivered.body.session.id, s.id);
        const reply = await ctx().request('POST', `/api/v1/sessions/${s.id}/messages`, {
          token: botToken,
          body: { text: '9 to 6.' },
        });
        assert.equal(reply.status, 201);
        assert.deepEqual(reply.body.sender, { type: 'bot', id: bot.id });
        const others = await ctx().request('GET', `/api/v1/sessions/${s.id}/history`, { token: botToken });
        assert.equal(others.status, 200);
        const handover = await ctx().request('POST', `/api/v1/sessions/${s.id}/handover`, {
          token: botToken,
        });
        assert.equal(handover.status, 200);
        await waitFor(
          async () => (await session(ctx(), s.id)).operatorId === op.id,
          3000,
          'an operator after the hand-over',
        );
        const gone = await ctx().request('POST', `/api/v1/sessions/${s.id}/messages`, {
          token: botToken,
          body: { text: 'me again' },
        });
        assert.equal(gone.status, 404, 'the bot no longer sees the session');
        const back = await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, {
          token: op.token,
          body: { botId: bot.id },
        });
        assert.equal(back.body.state, 'AssignedToBot');
      } finally {
        await hook.close();
      }
    });

    it('refuses a bot webhook redirect to a private address and hands the session over at once', async () => {
      const [hook, inner] = await Promise.all([ApiCallbackServer.start(), ApiCallbackServer.start()]);
      try {
        const bot = (
          await ctx().request('POST', '/api/v1/bots', {
            body: {
              name: 'Redirecting',
              settings: { webhookUrl: `${hook.url}/bot`, secret: 'bot-webhook-secret-0123456789' },
            },
          })
        ).body;
        const op = await createUser(ctx(), 'operator');
        const line = await createLine(ctx(), { operatorIds: [op.id], botId: bot.id });
        const channel = await createChannel(ctx(), line.id, 'api');
        await online(ctx(), op);
        // The bot's own (configured) host is trusted; the loopback service it points at is not.
        hook.answerNext({ status: 302, headers: { location: `${inner.url}/admin` } });
        await apiWebhook(ctx(), channel.id, clientMessage('redirected', 'hello?'));
        const [s] = (
          await ctx().request('POST', '/api/v1/sessions/search', {
            body: { where: { field: 'channelId', op: 'eq', value: channel.id } },
          })
        ).body.items;
        await waitFor(
          async () => (await session(ctx(), s.id)).operatorId === op.id,
          5000,
          'the operator after the refused redirect',
        );
        assert.deepEqual(
          hook.requests.map((r) => r.path),
          ['/bot'],
          'called once: a refusal is not retried',
        );
        assert.equal(inner.requests.length, 0, 'the redirect target was never called');
      } finally {
        await Promise.all([hook.close(), inner.close()]);
      }
    });

    it('hands a session to the queue when its bot keeps failing', async () => {
      const hook = await ApiCallbackServer.start();
      try {
        const bot = (
          await ctx().request('POST', '/api/v1/bots', {
            body: {
              name: 'Broken',
              settings: { webhookUrl: `${hook.url}/bot`, secret: 'bot-webhook-secret-0123456789' },
            },
          })
        ).body;
        const op = await createUser(ctx(), 'operator');
        const line = await createLine(ctx(), { operatorIds: [op.id], botId: bot.id });
        const channel = await createChannel(ctx(), line.id, 'api');
        await online(ctx(), op);
        hook.answerNext({ status: 500 }, { status: 502 }, { status: 503 });
        const switched: string[] = [];
        const off = ctx().services.deps.bus.on('session.transitioned', (e) => {
          if (e.payload.from === 'AssignedToBot' && e.payload.to === 'Waiting')
            switched.push(e.payload.sessionId);
        });
        await apiWebhook(ctx(), channel.id, clientMessage('stranded', 'hello?'));
        const [s] = (
          await ctx().request('POST', '/api/v1/sessions/search', {
            body: { where: { field: 'channelId', op: 'eq', value: channel.id } },
          })
        ).body.items;
        await waitFor(
          async () => (await session(ctx(), s.id)).operatorId === op.id,
          8000,
          'the operator after the bot failed',
        );
        off();
        assert.deepEqual(switched, [s.id]);
        assert.equal(hook.requests.filter((r) => r.path === '/bot').length, 3);
      } finally {
        await hook.close();
      }
    });
  },
  { background: true },
);
