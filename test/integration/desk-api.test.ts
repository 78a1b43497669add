import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { ApiCallbackServer } from '../fakes/api-callback.ts';
import { describeEachDatabase } from '../helpers/app.ts';
import { createChannel, createLine, createUser, unique } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { API_SECRET, apiWebhook, clientMessage } from '../helpers/webhooks.ts';

describeEachDatabase(
  'desk API: lists, notes, canned replies, staff loads',
  (ctx) => {
    let callback: ApiCallbackServer;
    before(async () => {
      callback = await ApiCallbackServer.start();
    });
    after(() => callback.close());

    async function world() {
      const operator = await createUser(ctx(), 'operator', { name: 'Olga' });
      const supervisor = await createUser(ctx(), 'supervisor', { name: 'Sam' });
      const line = await createLine(ctx(), {
        operatorIds: [operator.id, supervisor.id],
        queue: { routingRule: 'toAll', maxSessionsPerOperator: 7 },
      });
      const channel = await createChannel(ctx(), line.id, 'api', {
        settings: { secret: API_SECRET, callbackUrl: `${callback.url}/${line.id}` },
      });
      return { operator, supervisor, line, channel };
    }
    const get = (url: string, token: string) => ctx().request('GET', `/api/v1${url}`, { token });

    it('lists the queue in the router order, with the client name and channel type', async () => {
      const { operator, supervisor, channel } = await world();
      await apiWebhook(
        ctx(),
        channel.id,
        clientMessage(unique('a'), 'first', { from: { id: unique('a'), name: 'Ann <b>' } }),
      );
      await apiWebhook(
        ctx(),
        channel.id,
        clientMessage(unique('b'), 'second', { from: { id: unique('b'), name: 'Bob' } }),
      );
      const queue = await waitFor(async () => {
        const r = await get('/desk/chats?list=queue', operator.token);
        return r.body.total === 2 && r.body;
      });
      assert.deepEqual(
        queue.items.map((c: any) => c.name),
        ['Ann <b>', 'Bob'],
      );
      assert.equal(queue.items[0].channel, 'api');
      assert.equal(queue.items[0].lastMessage.text, 'first');
      // A High priority jumps the queue, as routing serves it.
      const bob = queue.items[1];
      const patched = await ctx().request('PATCH', `/api/v1/sessions/${bob.id}`, {
        token: supervisor.token,
        body: { priority: 'High' },
      });
      assert.equal(patched.status, 200);
      const again = await get('/desk/chats?list=queue', operator.token);
      assert.deepEqual(
        again.body.items.map((c: any) => c.name),
        ['Bob', 'Ann <b>'],
      );
      assert.equal((await get('/desk/chats?list=nope', operator.token)).status, 400);
    });

    it('stores a note for staff and never sends it to the client', async () => {
      const { operator, channel, line } = await world();
      await ctx().request('PUT', '/api/v1/me/status', { token: operator.token, body: { status: 'online' } });
      await apiWebhook(ctx(), channel.id, clientMessage(unique('c'), 'help'));
      const mine = await waitFor(async () => {
        const r = await get('/desk/chats?list=mine', operator.token);
        return r.body.items[0];
      });
      assert.equal(mine.offered, true);
      assert.equal(
        (await ctx().request('POST', `/api/v1/sessions/${mine.id}/accept`, { token: operator.token })).status,
        200,
      );
      const note = await ctx().request('POST', `/api/v1/sessions/${mine.id}/notes`, {
        token: operator.token,
        body: { text: 'VIP, be nice' },
      });
      assert.equal(note.status, 201, JSON.stringify(note.body));
      assert.equal(note.body.type, 'note');
      const reply = await ctx().request('POST', `/api/v1/sessions/${mine.id}/messages`, {
        token: operator.token,
        body: { text: 'hello there' },
      });
      assert.equal(reply.status, 201);
      await waitFor(() =>
        callback.requests.some((r) => r.path === `/${line.id}` && r.body?.text === 'hello there'),
      );
      await new Promise((r) => setTimeout(r, 300));
      const texts = callback.requests.filter((r) => r.path === `/${line.id}`).map((r) => r.body?.text);
      assert.deepEqual(texts, ['hello there']);
      const page = await get(`/sessions/${mine.id}/messages`, operator.token);
      assert.deepEqual(
        page.body.items.map((m: any) => [m.type, m.text]),
        [
          ['text', 'hello there'],
          ['note', 'VIP, be nice'],
          ['text', 'help'],
        ],
      );
      const blank = await ctx().request('POST', `/api/v1/sessions/${mine.id}/notes`, {
        token: operator.token,
        body: { text: '  ' },
      });
      assert.equal(blank.status, 400);
    });

    it('keeps canned replies per line (its supervisors) and personal, shortcuts unique per scope', async () => {
      const { operator, supervisor, line } = await world();
      const other = await createUser(ctx(), 'operator');
      const post = (token: string, body: unknown) =>
        ctx().request('POST', '/api/v1/canned-replies', { token, body });
      assert.equal(
        (await post(supervisor.token, { shortcut: 'hi', text: 'Hello!', lineId: line.id })).status,
        201,
      );
      assert.equal(
        (await post(supervisor.token, { shortcut: 'HI', text: 'again', lineId: line.id })).body.error.code,
        'SHORTCUT_TAKEN',
      );
      assert.equal((await post(operator.token, { shortcut: 'hi', text: 'Hey, me here' })).status, 201);
      assert.equal((await post(operator.token, { shortcut: 'x', text: 'no', lineId: line.id })).status, 403);
      assert.equal((await post(operator.token, { shortcut: 'bad space', text: 'no' })).status, 400);
      const mine = await get('/canned-replies', operator.token);
      assert.deepEqual(mine.body.items.map((c: any) => [c.shortcut, c.text]).sort(), [
        ['hi', 'Hello!'],
        ['hi', 'Hey, me here'],
      ]);
      assert.equal((await get('/canned-replies', other.token)).body.total, 0);
      const own = mine.body.items.find((c: any) => c.userId === operator.id);
      assert.equal(
        (await ctx().request('DELETE', `/api/v1/canned-replies/${own.id}`, { token: other.token })).status,
        404,
      );
      assert.equal(
        (await ctx().request('DELETE', `/api/v1/canned-replies/${own.id}`, { token: operator.token })).status,
        204,
      );
      assert.equal((await get('/canned-replies', operator.token)).body.total, 1);
    });

    it('shows supervisors the staff of their lines with status, load and capacity; not operators', async () => {
      const { operator, supervisor, line } = await world();
      await ctx().request('PUT', '/api/v1/me/status', { token: operator.token, body: { status: 'online' } });
      const staff = await get(`/desk/staff?lineId=${line.id}`, supervisor.token);
      assert.equal(staff.status, 200);
      const olga = staff.body.items.find((s: any) => s.id === operator.id);
      assert.deepEqual(olga, {
        id: operator.id,
        name: 'Olga',
        role: 'operator',
        status: 'online',
        openSessions: 0,
        capacity: 7,
      });
      assert.equal((await get('/desk/staff', operator.token)).status, 403);
    });
  },
  { background: true },
);
