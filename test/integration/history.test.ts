/**
 * The session history names who made each change by what they are (admin, supervisor, operator,
 * bot, client, system), and is read a page at a time like every list: `{items, total, nextCursor}`.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, createUser, createWorld, openSession } from '../helpers/factories.ts';
import { apiWebhook, clientMessage } from '../helpers/webhooks.ts';

interface Entry {
  id: number;
  event: string;
  toState: string;
  actor: { type: string; id: string | null };
}

async function history(ctx: TestContext, sessionId: string): Promise<Entry[]> {
  const res = await ctx.request('GET', `/api/v1/sessions/${sessionId}/history`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.items;
}

const actors = (entries: Entry[]) => entries.map((h) => [h.event, h.actor.type, h.actor.id]);

async function adminId(ctx: TestContext): Promise<string> {
  return (await ctx.request('GET', '/api/v1/me')).body.id;
}

async function sessionOf(ctx: TestContext, channelId: string) {
  const res = await ctx.request('POST', '/api/v1/sessions/search', {
    body: { where: { field: 'channelId', op: 'eq', value: channelId } },
  });
  assert.equal(res.body.total, 1);
  return res.body.items[0] as { id: string; state: string; clientIds: string[] };
}

describeEachDatabase('session history', (ctx) => {
  it('records an admin’s, a supervisor’s and an operator’s changes under their own role', async () => {
    const { channel, operator, supervisor } = await createWorld(ctx(), 'api');
    const admin = await adminId(ctx());
    const s = await openSession(ctx(), channel.id);
    await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, { body: { operatorId: operator.id } });
    const closed = await ctx().request('POST', `/api/v1/sessions/${s.id}/close`, { token: operator.token });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.deepEqual(closed.body.closedBy, { type: 'operator', id: operator.id });
    assert.deepEqual(actors(await history(ctx(), s.id)), [
      ['open', 'admin', admin],
      ['assignOperator', 'admin', admin],
      ['close', 'operator', operator.id],
    ]);

    const other = await openSession(ctx(), channel.id);
    const bySupervisor = await ctx().request('POST', `/api/v1/sessions/${other.id}/close`, {
      token: supervisor.token,
    });
    assert.equal(bySupervisor.status, 200, JSON.stringify(bySupervisor.body));
    assert.deepEqual(bySupervisor.body.closedBy, { type: 'supervisor', id: supervisor.id });
    const spam = await openSession(ctx(), channel.id);
    await ctx().request('POST', `/api/v1/sessions/${spam.id}/spam`);
    assert.deepEqual(actors(await history(ctx(), other.id)).at(-1), ['close', 'supervisor', supervisor.id]);
    assert.deepEqual(actors(await history(ctx(), spam.id)).at(-1), ['markAsSpam', 'admin', admin]);
  });

  it('records the client opening and closing, the bot handing over and the router assigning', async () => {
    const bot = (await ctx().request('POST', '/api/v1/bots', { body: { name: 'Greeter' } })).body;
    const botToken = (await ctx().request('POST', `/api/v1/bots/${bot.id}/tokens`)).body.token;
    const operator = await createUser(ctx(), 'operator');
    const line = await createLine(ctx(), { operatorIds: [operator.id], botId: bot.id });
    const channel = await createChannel(ctx(), line.id, 'api');
    const posted = await apiWebhook(ctx(), channel.id, clientMessage('history-client', 'hi'));
    assert.equal(posted.status, 200, JSON.stringify(posted.body));
    const s = await sessionOf(ctx(), channel.id);
    assert.equal(s.state, 'AssignedToBot');
    const handover = await ctx().request('POST', `/api/v1/sessions/${s.id}/handover`, { token: botToken });
    assert.equal(handover.status, 200, JSON.stringify(handover.body));
    const status = await ctx().request('PUT', '/api/v1/me/status', {
      token: operator.token,
      body: { status: 'online' },
    });
    assert.equal(status.status, 200);
    assert.equal(await ctx().platform.router.route(s.id), 'assigned');
    const close = await apiWebhook(ctx(), channel.id, {
      event: 'close',
      from: { id: 'history-client' },
      reason: 'done',
    });
    assert.equal(close.status, 200, JSON.stringify(close.body));
    const client = s.clientIds[0]!;
    assert.deepEqual(actors(await history(ctx(), s.id)), [
      ['open', 'client', client],
      ['enqueue', 'bot', bot.id],
      ['assignOperator', 'system', null],
      ['close', 'client', client],
    ]);
  });

  it('pages the history oldest first with limit and cursor, counting every entry', async () => {
    const { channel, operator, supervisor } = await createWorld(ctx(), 'api');
    const s = await openSession(ctx(), channel.id);
    for (const to of [operator, supervisor, operator]) {
      const res = await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, {
        body: { operatorId: to.id },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    await ctx().request('POST', `/api/v1/sessions/${s.id}/close`);
    const all = await history(ctx(), s.id);
    assert.deepEqual(
      all.map((h) => h.event),
      ['open', 'assignOperator', 'assignOperator', 'assignOperator', 'close'],
    );
    const read: Entry[] = [];
    const totals: number[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const url: string = `/api/v1/sessions/${s.id}/history?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await ctx().request('GET', url);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.ok(page.body.items.length <= 2);
      read.push(...page.body.items);
      totals.push(page.body.total);
      cursor = page.body.nextCursor;
      if (cursor === null) break;
    }
    assert.equal(cursor, null, 'the last page says so');
    assert.deepEqual(totals, [5, 5, 5]);
    assert.deepEqual(
      read.map((h) => h.id),
      all.map((h) => h.id),
    );
    const bad = await ctx().request('GET', `/api/v1/sessions/${s.id}/history?cursor=abc`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.details.errors[0].path, 'querystring.cursor');
    const zero = await ctx().request('GET', `/api/v1/sessions/${s.id}/history?limit=0`);
    assert.equal(zero.status, 400);
    assert.equal(zero.body.error.details.errors[0].path, 'querystring.limit');
  });

  it('answers the workspace, messages and uploads in the same list shape', async () => {
    const { channel, operator } = await createWorld(ctx(), 'api');
    const s = await openSession(ctx(), channel.id);
    await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, { body: { operatorId: operator.id } });
    const mine = await ctx().request('GET', '/api/v1/me/sessions', { token: operator.token });
    assert.equal(mine.status, 200);
    assert.deepEqual(
      mine.body.items.map((x: { id: string }) => x.id),
      [s.id],
    );
    assert.equal(mine.body.total, 1);
    const messages = await ctx().request('GET', `/api/v1/sessions/${s.id}/messages`);
    assert.deepEqual(messages.body, { items: [], total: 0, nextCursor: null });
    const boundary = 'h6boundary';
    const upload = await ctx().app.inject({
      method: 'POST',
      url: '/api/v1/files',
      headers: {
        authorization: `Bearer ${ctx().adminToken}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      payload:
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n` +
        `Content-Type: text/plain\r\n\r\nhello\r\n--${boundary}--\r\n`,
    });
    assert.equal(upload.statusCode, 201, upload.body);
    const body = upload.json();
    assert.equal(body.total, 1);
    assert.equal(body.items[0].size, 5);
  });
});
