import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { ApiCallbackServer } from '../fakes/api-callback.ts';
import { describeEachDatabase } from '../helpers/app.ts';
import { createChannel, createLine, createUser, unique } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { API_SECRET, apiWebhook, clientMessage } from '../helpers/webhooks.ts';
import { connectOperator } from '../live/operator-client.ts';

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

    it('returns a held session to the queue: it leaves its operator live and is routed to another', async () => {
      const { operator, supervisor, line, channel } = await world();
      const other = await createUser(ctx(), 'operator', { name: 'Pavel' });
      await ctx().request('PATCH', `/api/v1/lines/${line.id}`, {
        body: { operatorIds: [operator.id, other.id, supervisor.id] },
      });
      const post = (url: string, token: string) => ctx().request('POST', `/api/v1${url}`, { token });
      // Olga alone is online: the offer is hers; she takes it.
      const olga = await connectOperator(ctx().url!, operator.token);
      const pavel = await connectOperator(ctx().url!, other.token);
      await ctx().request('PUT', '/api/v1/me/status', { token: other.token, body: { status: 'away' } });
      try {
        await apiWebhook(ctx(), channel.id, clientMessage(unique('r'), 'please help'));
        const offer = await olga.waitForEvent('chatSessionStarted');
        const id = offer.data.id;
        assert.equal((await post(`/sessions/${id}/accept`, operator.token)).status, 200);
        const actions = await get(`/sessions/${id}/actions`, operator.token);
        assert.ok(actions.body.actions.includes('returnToQueue'), JSON.stringify(actions.body));
        // Pavel cannot see it, let alone return it; nor can he return what is not held.
        assert.equal((await post(`/sessions/${id}/return-to-queue`, other.token)).status, 404);

        await ctx().request('PUT', '/api/v1/me/status', { token: other.token, body: { status: 'online' } });
        const back = await post(`/sessions/${id}/return-to-queue`, operator.token);
        assert.equal(back.status, 200, JSON.stringify(back.body));
        assert.equal(back.body.operatorId, null);
        const gone = await olga.waitForEvent('chatSessionDeleted', (d) => d.sessionId === id);
        assert.equal(gone.data.reason, 'queue');
        // Routed again, to the other operator first (toAll: offered to Pavel, not back to Olga).
        const offered = await pavel.waitForEvent('chatSessionStarted', (d) => d.id === id);
        assert.equal(offered.data.status, 'Waiting');
        const pavelMine = await get('/desk/chats?list=mine', other.token);
        assert.deepEqual(
          pavelMine.body.items.map((c: any) => [c.id, c.offered]),
          [[id, true]],
        );
        assert.equal((await get('/desk/chats?list=mine', operator.token)).body.total, 0);
        assert.deepEqual(
          (await get('/desk/chats?list=queue', operator.token)).body.items.map((c: any) => c.id),
          [id],
        );
        const history = await get(`/sessions/${id}/history`, supervisor.token);
        const last = history.body.items.at(-1);
        assert.deepEqual(
          [last.event, last.fromState, last.toState],
          ['enqueue', 'AssignedToOperator', 'Waiting'],
        );
        assert.equal(last.actor.id, operator.id);
        // Not held: 409. A supervisor returns Pavel's session once he has it.
        const waiting = await post(`/sessions/${id}/return-to-queue`, supervisor.token);
        assert.equal(waiting.status, 409);
        assert.equal(waiting.body.error.code, 'SESSION_NOT_WITH_OPERATOR');
        assert.equal((await post(`/sessions/${id}/accept`, other.token)).status, 200);
        assert.equal((await post(`/sessions/${id}/return-to-queue`, supervisor.token)).status, 200);
        const left = await pavel.waitForEvent(
          'chatSessionDeleted',
          (d) => d.sessionId === id && d.reason === 'queue',
        );
        assert.ok(left);
        // Both have let it pass: a new round brings it back to them rather than leave it waiting.
        await olga.waitForEvent(
          'chatSessionStarted',
          (d) => d.id === id && olga.events.filter((e) => e.event === 'chatSessionStarted').length >= 2,
        );
        assert.equal((await post(`/sessions/${id}/close`, supervisor.token)).status, 200);
        const closed = await post(`/sessions/${id}/return-to-queue`, supervisor.token);
        assert.equal(closed.status, 409);
        assert.equal(closed.body.error.code, 'SESSION_CLOSED');
      } finally {
        olga.close();
        pavel.close();
      }
    });

    it('drops a session taken from the queue from the lists of those who had it, and only theirs', async () => {
      const { operator, supervisor, line, channel } = await world();
      const other = await createUser(ctx(), 'operator', { name: 'Pavel' });
      const stranger = await createUser(ctx(), 'operator', { name: 'Stranger' });
      await ctx().request('PATCH', `/api/v1/lines/${line.id}`, {
        body: { operatorIds: [operator.id, other.id, supervisor.id] },
      });
      const olga = await connectOperator(ctx().url!, operator.token);
      const pavel = await connectOperator(ctx().url!, other.token);
      const outsider = await connectOperator(ctx().url!, stranger.token);
      const apps = [olga, pavel, outsider];
      try {
        // Nobody online: the session falls into "help", told to the whole line.
        for (const u of [operator, other, stranger]) {
          await ctx().request('PUT', '/api/v1/me/status', { token: u.token, body: { status: 'away' } });
        }
        await apiWebhook(ctx(), channel.id, clientMessage(unique('q'), 'anyone?'));
        const help = await pavel.waitForEvent('operatorNotFound');
        const id = help.data.sessionId;
        await olga.waitForEvent('operatorNotFound', (d) => d.sessionId === id);
        // Olga takes it from the queue: Pavel's queue drops it; Olga keeps it; the stranger hears nothing.
        const took = await ctx().request('POST', `/api/v1/sessions/${id}/accept`, { token: operator.token });
        assert.equal(took.status, 200);
        const dropped = await pavel.waitForEvent('chatSessionDeleted', (d) => d.sessionId === id);
        assert.equal(dropped.data.reason, 'dequeued');
        await olga.waitForEvent('chatSessionAdded', (d) => d.id === id);
        await new Promise((r) => setTimeout(r, 300));
        assert.ok(!olga.events.some((e) => e.event === 'chatSessionDeleted'), 'the taker keeps it');
        assert.ok(!outsider.events.some((e) => e.data?.sessionId === id || e.data?.id === id));

        // An offer (toAll) taken by one: only the other operators offered hear it ended.
        await ctx().request('PUT', '/api/v1/me/status', {
          token: operator.token,
          body: { status: 'online' },
        });
        await ctx().request('PUT', '/api/v1/me/status', { token: other.token, body: { status: 'online' } });
        await apiWebhook(ctx(), channel.id, clientMessage(unique('q'), 'me too'));
        const offer = await pavel.waitForEvent('chatSessionStarted', (d) => d.id !== id);
        const id2 = offer.data.id;
        await olga.waitForEvent('chatSessionStarted', (d) => d.id === id2);
        assert.equal(
          (await ctx().request('POST', `/api/v1/sessions/${id2}/accept`, { token: other.token })).status,
          200,
        );
        const ended = await olga.waitForEvent('chatSessionDeleted', (d) => d.sessionId === id2);
        assert.equal(ended.data.reason, 'offer');
        await new Promise((r) => setTimeout(r, 300));
        assert.ok(!pavel.events.some((e) => e.event === 'chatSessionDeleted' && e.data.sessionId === id2));
        assert.equal(
          olga.events.filter((e) => e.event === 'chatSessionDeleted' && e.data.sessionId === id2).length,
          1,
        );
      } finally {
        for (const a of apps) a.close();
      }
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

      // Editing: the owner for a personal reply, the line's supervisors for a line's.
      const patch = (id: string, token: string, body: unknown) =>
        ctx().request('PATCH', `/api/v1/canned-replies/${id}`, { token, body });
      const lineReply = mine.body.items.find((c: any) => c.lineId === line.id);
      assert.equal((await patch(lineReply.id, operator.token, { text: 'mine now' })).status, 404);
      const edited = await patch(lineReply.id, supervisor.token, { shortcut: 'hello', text: 'Hello there!' });
      assert.equal(edited.status, 200, JSON.stringify(edited.body));
      assert.deepEqual([edited.body.shortcut, edited.body.text], ['hello', 'Hello there!']);
      const second = (await post(supervisor.token, { shortcut: 'bye', text: 'Bye!', lineId: line.id })).body;
      const taken = await patch(second.id, supervisor.token, { shortcut: 'HELLO' });
      assert.equal(taken.status, 409);
      assert.equal(taken.body.error.code, 'SHORTCUT_TAKEN');
      assert.equal((await patch(second.id, supervisor.token, { text: '   ' })).status, 400);
      assert.equal((await patch(second.id, supervisor.token, {})).status, 400);
      const personal = (await post(operator.token, { shortcut: 'sig', text: 'Olga' })).body;
      assert.equal((await patch(personal.id, supervisor.token, { text: 'x' })).status, 404);
      assert.equal(
        (await patch(personal.id, operator.token, { text: 'Olga, support' })).body.text,
        'Olga, support',
      );
      assert.equal(
        (await ctx().request('DELETE', `/api/v1/canned-replies/${second.id}`, { token: operator.token }))
          .status,
        404,
      );
      assert.equal(
        (await ctx().request('DELETE', `/api/v1/canned-replies/${second.id}`, { token: supervisor.token }))
          .status,
        204,
      );
      assert.deepEqual(
        (await get('/canned-replies', operator.token)).body.items.map((c: any) => c.shortcut).sort(),
        ['hello', 'sig'],
      );
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
  { background: true, listen: true },
);
