import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachDatabase } from '../helpers/app.ts';
import { createUser, createWorld, openSession } from '../helpers/factories.ts';

/** Who may see and do what with sessions, per role. */
describeEachDatabase('session roles', (ctx) => {
  it("shows an operator their own sessions and their lines' queue, nothing else", async () => {
    const { channel, operator } = await createWorld(ctx());
    const other = await createWorld(ctx());
    const queued = await openSession(ctx(), channel.id);
    const foreign = await openSession(ctx(), other.channel.id);
    const assignedElsewhere = await openSession(ctx(), channel.id);
    await ctx().request('POST', `/api/v1/sessions/${assignedElsewhere.id}/assign`, {
      body: { operatorId: other.operator.id },
    });

    const as = (url: string) => ctx().request('GET', url, { token: operator.token });
    assert.equal((await as(`/api/v1/sessions/${queued.id}`)).status, 200);
    assert.equal((await as(`/api/v1/sessions/${foreign.id}`)).status, 404);
    assert.equal((await as(`/api/v1/sessions/${assignedElsewhere.id}`)).status, 404);
    assert.equal((await as(`/api/v1/sessions/${foreign.id}/messages`)).status, 404);
    assert.equal((await as(`/api/v1/sessions/${foreign.id}/history`)).status, 404);
    const search = await ctx().request('POST', '/api/v1/sessions/search', {
      token: operator.token,
      body: {},
    });
    assert.deepEqual(
      search.body.items.map((s: { id: string }) => s.id),
      [queued.id],
    );
  });

  it('lets an operator take a queued session of their line, but not assign it to someone else', async () => {
    const { channel, operator } = await createWorld(ctx());
    const colleague = await createUser(ctx(), 'operator');
    const s = await openSession(ctx(), channel.id);
    const toOther = await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, {
      token: operator.token,
      body: { operatorId: colleague.id },
    });
    assert.equal(toOther.status, 403);
    assert.equal(toOther.body.error.code, 'NOT_YOUR_SESSION');
    const take = await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, {
      token: operator.token,
      body: { operatorId: operator.id },
    });
    assert.equal(take.status, 200);
    assert.equal(take.body.operatorId, operator.id);
    // Now theirs: they may transfer and close it.
    const close = await ctx().request('POST', `/api/v1/sessions/${s.id}/close`, { token: operator.token });
    assert.equal(close.status, 200);
  });

  it('keeps an operator from closing or spamming a queued session that is not theirs', async () => {
    const { channel, operator } = await createWorld(ctx());
    const s = await openSession(ctx(), channel.id);
    for (const action of ['close', 'spam']) {
      const res = await ctx().request('POST', `/api/v1/sessions/${s.id}/${action}`, {
        token: operator.token,
      });
      assert.equal(res.status, 403, action);
    }
  });

  it('reserves taking a session out of spam for supervisors and admins', async () => {
    const { channel, operator, supervisor } = await createWorld(ctx());
    const s = await openSession(ctx(), channel.id);
    await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, { body: { operatorId: operator.id } });
    assert.equal(
      (await ctx().request('POST', `/api/v1/sessions/${s.id}/spam`, { token: operator.token })).status,
      200,
    );
    assert.equal(
      (await ctx().request('DELETE', `/api/v1/sessions/${s.id}/spam`, { token: operator.token })).status,
      403,
    );
    assert.equal(
      (await ctx().request('DELETE', `/api/v1/sessions/${s.id}/spam`, { token: supervisor.token })).status,
      200,
    );
  });

  it('lets a supervisor see and act on every session of their lines, and only those', async () => {
    const { channel, operator, supervisor } = await createWorld(ctx());
    const other = await createWorld(ctx());
    const s = await openSession(ctx(), channel.id);
    await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, { body: { operatorId: operator.id } });
    assert.equal(
      (await ctx().request('GET', `/api/v1/sessions/${s.id}`, { token: supervisor.token })).status,
      200,
    );
    const reassign = await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, {
      token: supervisor.token,
      body: { operatorId: supervisor.id },
    });
    assert.equal(reassign.body.operatorId, supervisor.id);
    const foreign = await openSession(ctx(), other.channel.id);
    assert.equal(
      (await ctx().request('POST', `/api/v1/sessions/${foreign.id}/close`, { token: supervisor.token }))
        .status,
      404,
    );
  });

  it('gives lines served through a group to the group members', async () => {
    const member = await createUser(ctx(), 'operator');
    const group = (
      await ctx().request('POST', '/api/v1/groups', { body: { name: 'night shift', memberIds: [member.id] } })
    ).body;
    const { channel, line } = await createWorld(ctx());
    await ctx().request('PATCH', `/api/v1/lines/${line.id}`, { body: { groupIds: [group.id] } });
    const s = await openSession(ctx(), channel.id);
    assert.equal(
      (await ctx().request('GET', `/api/v1/sessions/${s.id}`, { token: member.token })).status,
      200,
    );
  });

  it('refuses configuration endpoints to operators and supervisors', async () => {
    const { line, supervisor, operator } = await createWorld(ctx());
    for (const token of [operator.token, supervisor.token]) {
      for (const [method, url, body] of [
        ['POST', '/api/v1/lines', { name: 'x' }],
        ['POST', '/api/v1/channels', { lineId: line.id, name: 'x', type: 'api' }],
        ['POST', '/api/v1/groups', { name: 'x' }],
        ['POST', '/api/v1/bots', { name: 'x' }],
        ['POST', '/api/v1/users', { login: 'x', name: 'x', role: 'admin', password: 'password-1' }],
      ] as const) {
        const res = await ctx().request(method, url, { token, body });
        assert.equal(res.status, 403, `${method} ${url}`);
        assert.equal(res.body.error.code, 'FORBIDDEN');
      }
    }
  });
});
