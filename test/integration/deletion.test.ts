import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, createUser, openSession } from '../helpers/factories.ts';
import { apiWebhook, clientMessage } from '../helpers/webhooks.ts';

const session = async (ctx: TestContext, id: string) =>
  (await ctx.request('GET', `/api/v1/sessions/${id}`)).body;

/** The last history entry of a session, read from its table. */
async function lastHistory(ctx: TestContext, id: string) {
  const rows = await queryRows<{ event: string; from_state: string; actor: unknown; details: any }>(
    ctx.db,
    sql`SELECT event, from_state, actor, details FROM session_history WHERE session_id = ${id} ORDER BY id DESC LIMIT 1`,
  );
  return rows[0]!;
}

/** A line with an online operator and a channel holding a Waiting, an assigned and a closed session. */
async function busyLine(ctx: TestContext) {
  const operator = await createUser(ctx, 'operator');
  const line = await createLine(ctx, { operatorIds: [operator.id], queue: { maxSessionsPerOperator: 1 } });
  const channel = await createChannel(ctx, line.id, 'api');
  await ctx.request('PUT', '/api/v1/me/status', { token: operator.token, body: { status: 'online' } });
  const assigned = await openSession(ctx, channel.id);
  assert.equal(await ctx.platform.router.route(assigned.id), 'assigned');
  const waiting = await openSession(ctx, channel.id);
  assert.equal(await ctx.platform.router.route(waiting.id), 'waiting', 'the operator is full');
  const closed = await openSession(ctx, channel.id);
  await ctx.request('POST', `/api/v1/sessions/${closed.id}/close`);
  return { operator, line, channel, assigned, waiting, closed };
}

async function openSessionsOf(ctx: TestContext, operatorId: string) {
  const [row] = await queryRows<{ n: number }>(
    ctx.db,
    sql`SELECT open_sessions AS n FROM users WHERE id = ${operatorId}`,
  );
  return row!.n;
}

describeEachDatabase('deleting lines and channels', (ctx) => {
  it('closes the open sessions of a deleted channel as the system, saying why in their history', async () => {
    const { operator, line, channel, assigned, waiting, closed } = await busyLine(ctx());
    const other = await createChannel(ctx(), line.id, 'api');
    const elsewhere = await openSession(ctx(), other.id);
    const closedHistory = await lastHistory(ctx(), closed.id);
    const res = await ctx().request('DELETE', `/api/v1/channels/${channel.id}`);
    assert.equal(res.status, 204, JSON.stringify(res.body));
    for (const s of [assigned, waiting]) {
      const after = await session(ctx(), s.id);
      assert.equal(after.state, 'Closed', s.id);
      assert.deepEqual(after.closedBy, { type: 'system', id: null });
      const entry = await lastHistory(ctx(), s.id);
      assert.equal(entry.event, 'close');
      assert.deepEqual(entry.actor, { type: 'system', id: null });
      assert.equal(entry.details.reason, 'the channel was deleted');
    }
    assert.equal((await session(ctx(), assigned.id)).operatorId, operator.id, 'who had it is kept');
    assert.equal(await openSessionsOf(ctx(), operator.id), 0, 'the operator has room again');
    assert.deepEqual(await lastHistory(ctx(), closed.id), closedHistory, 'a closed session is left alone');
    assert.equal((await session(ctx(), elsewhere.id)).state, 'Waiting', 'other channels are untouched');
    const late = await apiWebhook(ctx(), channel.id, clientMessage('after-delete', 'hello?'));
    assert.equal(late.status, 404, 'the deleted channel takes nothing in');
  });

  it('deletes a line’s channels with it and closes every open session of the line', async () => {
    const { line, channel, assigned, waiting } = await busyLine(ctx());
    const parked = await createChannel(ctx(), line.id, 'api');
    const onParked = await openSession(ctx(), parked.id);
    await ctx().request('POST', `/api/v1/channels/${parked.id}/disconnect`);
    const res = await ctx().request('DELETE', `/api/v1/lines/${line.id}`);
    assert.equal(res.status, 204, JSON.stringify(res.body));
    for (const s of [assigned, waiting, onParked]) {
      assert.equal((await session(ctx(), s.id)).state, 'Closed', s.id);
      assert.equal((await lastHistory(ctx(), s.id)).details.reason, 'the line was deleted');
    }
    for (const c of [channel, parked])
      assert.equal(
        (await ctx().request('GET', `/api/v1/channels/${c.id}`)).status,
        404,
        'deleted with its line',
      );
    const [left] = await queryRows<{ n: number }>(
      ctx().db,
      sql`SELECT count(*)::int AS n FROM sessions WHERE line_id = ${line.id} AND state <> 'Closed'`,
    );
    assert.equal(left!.n, 0);
  });
});
