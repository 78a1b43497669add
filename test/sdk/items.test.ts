/**
 * The SDK's items and searches against a real server over HTTP, beyond the document's snippets:
 * every session action (assign to operator, bot and group, transfer, priority, close), messages sent
 * with a file and read back a page at a time, a line's metrics, `fetch()`, `client.save()` of plain
 * fields, the search's paging (`all`, `pages`, iteration, `from`, `sort`, `count`), and the server's
 * refusals as OmnilineErrors with their code, status and details.
 */
import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import {
  createSystem,
  LineSessionPriority,
  LineSessionState,
  OmnilineError,
  type SessionItem,
  type System,
} from '../../sdk/src/index.ts';
import { stubProviders } from '../fakes/stub-providers.ts';
import { describeEachDatabase } from '../helpers/app.ts';
import { createChannel, createLine, createUser, unique } from '../helpers/factories.ts';

/** The OmnilineError a call is refused with. */
async function refusal(call: Promise<unknown>): Promise<OmnilineError> {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof OmnilineError, `expected an OmnilineError, got ${String(err)}`);
  return err;
}

describeEachDatabase(
  'SDK items and searches on a real server',
  (ctx) => {
    let System: System;
    const w = {} as {
      line: { id: string };
      channel: { id: string };
      operator: { id: string; token: string };
      other: { id: string; token: string };
      group: { id: string };
      bot: { id: string };
    };

    before(async () => {
      System = createSystem({ url: ctx().url!, token: ctx().adminToken });
      w.operator = await createUser(ctx(), 'operator');
      w.other = await createUser(ctx(), 'operator');
      w.line = await createLine(ctx(), { operatorIds: [w.operator.id, w.other.id] });
      w.channel = await createChannel(ctx(), w.line.id, 'livechat');
      w.group = (
        await ctx().request('POST', '/api/v1/groups', {
          body: { name: unique('group'), memberIds: [w.operator.id, w.other.id] },
        })
      ).body;
      w.bot = (await ctx().request('POST', '/api/v1/bots', { body: { name: unique('bot') } })).body;
    });

    const serverState = async (id: string) => (await ctx().request('GET', `/api/v1/sessions/${id}`)).body;

    it('creates a session, sets its priority, assigns it to a bot, a group and an operator, transfers and closes it', async () => {
      const session = await System.lines.sessions.create(w.channel, unique('visitor'));
      assert.equal(session.data._state, LineSessionState.Waiting);
      assert.equal(session.data._channel, w.channel.id);

      await session.setPriority(LineSessionPriority.High);
      assert.equal(session.data._priority, 'High');
      assert.equal((await serverState(session.id)).priority, 'High');

      const bot = await System.lines.bots.fetch(w.bot.id);
      await session.assignToBot(bot);
      assert.equal(session.data._state, LineSessionState.AssignedToBot);
      assert.equal((await serverState(session.id)).botId, w.bot.id);

      await session.assignToGroup(w.group.id);
      assert.equal((await serverState(session.id)).operatorGroupId, w.group.id);
      assert.equal(session.data._group, w.group.id);

      const operator = await System.lines.users.fetch(w.operator.id);
      await session.assignToOperator(operator);
      assert.equal(session.data._state, LineSessionState.AssignedToOperator);
      assert.equal(session.data._operator, w.operator.id);

      // A transfer by a user item moves it to that operator; the server agrees.
      await session.transfer(await System.lines.users.fetch(w.other.id));
      assert.equal(session.data._operator, w.other.id);
      assert.equal((await serverState(session.id)).operatorId, w.other.id);
      await session.transfer({ group: w.group });
      assert.equal((await serverState(session.id)).operatorGroupId, w.group.id);

      await session.close();
      assert.equal(session.data._state, LineSessionState.Closed);
      assert.equal((await serverState(session.id)).state, 'Closed');

      // Refused actions keep the server's code and status.
      const closed = await refusal(session.assignToOperator(w.operator.id));
      assert.equal(closed.code, 'SESSION_CLOSED');
      assert.equal(closed.status, 409);
      assert.equal(closed.request, `POST /api/v1/sessions/${session.id}/assign`);
      const nobody = await refusal(
        (await System.lines.sessions.create(w.channel, unique('visitor'))).assignToOperator(
          '00000000-0000-4000-8000-000000000000',
        ),
      );
      assert.equal(nobody.code, 'ASSIGNEE_NOT_FOUND');
      assert.equal(nobody.status, 422);
    });

    it('sends messages (one with a file) and reads them back: last, a page at a time, all', async () => {
      const session = await System.lines.sessions.create(w.channel, unique('visitor'));
      await session.assignToOperator(w.operator);
      // The operator writes, through their own token.
      const asOperator = createSystem({ url: ctx().url!, token: w.operator.token });
      const mine = await asOperator.lines.sessions.fetch(session.id);
      const texts = ['one', 'two', 'three', 'four'];
      for (const text of texts) await mine.sendMessage(text);
      const withFile = await mine.sendMessage('see the file', [
        { name: 'note.txt', data: 'hello file', type: 'text/plain' },
      ]);
      assert.equal(withFile.data._text, 'see the file');
      assert.equal(withFile.data._attachments.length, 1);
      assert.equal(withFile.data._attachments[0]!.name, 'note.txt');

      const last = await session.getLastMessage();
      assert.equal(last?.id, withFile.id);

      const first = await session.getMessages({ limit: 2 });
      assert.equal(first.total, 5);
      assert.deepEqual(
        first.items.map((m) => m.data._text),
        ['see the file', 'four'],
      );
      assert.ok(first.nextCursor);
      const second = await session.getMessages({ limit: 2, cursor: first.nextCursor });
      assert.deepEqual(
        second.items.map((m) => m.data._text),
        ['three', 'two'],
      );
      const all: string[] = [];
      for await (const m of session.messages(2)) all.push(m.data._text ?? '');
      assert.deepEqual(all, ['see the file', 'four', 'three', 'two', 'one']);

      // fetch() of a message and of the session read what the server holds now.
      assert.equal((await first.items[1]!.fetch()).data._text, 'four');
      await ctx().request('PATCH', `/api/v1/sessions/${session.id}`, { body: { priority: 'Low' } });
      assert.equal(session.data._priority, 'Medium');
      assert.equal((await session.fetch()).data._priority, 'Low');
    });

    it("reads a line's metrics over a range", async () => {
      const line = await System.lines.lines.fetch(w.line.id);
      const metrics = await line.getMetrics({
        from: new Date(Date.now() - 3600_000),
        to: new Date(Date.now() + 60_000),
      });
      assert.equal(metrics.lineId, w.line.id);
      const total = (
        await ctx().request('POST', '/api/v1/sessions/search', {
          body: { where: { field: 'lineId', op: 'eq', value: w.line.id }, size: 1 },
        })
      ).body.total as number;
      assert.equal(metrics.sessions.new, total);
      assert.ok(metrics.sessions.closed >= 1);
      const empty = await line.getMetrics({ from: '2000-01-01T00:00:00Z', to: '2000-01-02T00:00:00Z' });
      assert.equal(empty.sessions.new, 0);
      const bad = await refusal(line.getMetrics({ from: 'yesterday' }));
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.details), /from/);
    });

    it('saves the plain fields of a client it changed, and only those', async () => {
      const session = await System.lines.sessions.create(w.channel, unique('visitor'));
      const sent: { method: string; body: unknown }[] = [];
      const recorded = createSystem({
        url: ctx().url!,
        token: ctx().adminToken,
        fetch: (url, init) => {
          sent.push({
            method: String(init?.method),
            body: init?.body ? JSON.parse(String(init.body)) : null,
          });
          return fetch(url, init);
        },
      });
      const client = await recorded.lines.clients.fetch(session.data._clients[0]!);
      client.data._firstName = 'Ada';
      client.data._email = 'ada@example.com';
      await client.save();
      assert.deepEqual(sent.at(-1), {
        method: 'PATCH',
        body: { firstName: 'Ada', email: 'ada@example.com' },
      });
      const stored = (await ctx().request('GET', `/api/v1/clients/${client.id}`)).body;
      assert.equal(stored.firstName, 'Ada');
      assert.equal(stored.email, 'ada@example.com');
      assert.equal(client.data._firstName, 'Ada');
      // Nothing changed: no request.
      const before = sent.length;
      await client.save();
      assert.equal(sent.length, before);
      client.data._banned = 'yes' as never;
      const bad = await refusal(client.save());
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.details), /banned/);
    });

    it('pages through every match: all(), pages(), iteration, from, sort and count agree with the server', async () => {
      const line = await createLine(ctx());
      const channel = await createChannel(ctx(), line.id, 'livechat');
      const created: SessionItem[] = [];
      for (let i = 0; i < 7; i++)
        created.push(await System.lines.sessions.create(channel, unique('visitor')));
      const search = () =>
        System.lines.sessions
          .search()
          .where((f, g) => g.and(f._line.eq(line), f._state.eq(LineSessionState.Waiting)))
          .sort((f) => f._startedAt, 'asc')
          .size(3);
      const ids = created.map((s) => s.id);
      assert.equal(await search().count(), 7);
      assert.deepEqual(
        (await search().all()).map((s) => s.id),
        ids,
      );
      const pages: string[][] = [];
      for await (const page of search().pages()) pages.push(page.map((s) => s.id));
      assert.deepEqual(pages, [ids.slice(0, 3), ids.slice(3, 6), ids.slice(6)]);
      const iterated: string[] = [];
      for await (const s of search().from(2)) iterated.push(s.id);
      assert.deepEqual(iterated, ids.slice(2));
      const newest = await System.lines.sessions
        .search()
        .where((f) => f._line.eq(line))
        .sort('startedAt', 'desc')
        .first();
      assert.equal(newest.id, ids.at(-1));
      await created[0]!.close();
      assert.equal(await search().count(), 6);
      assert.equal(
        await System.lines.sessions
          .search()
          .where((f, g) => g.and(f._line.eq(line), g.not(f._state.eq(LineSessionState.Waiting))))
          .count(),
        1,
      );
    });

    it('surfaces refused searches and reads as OmnilineErrors naming the field', async () => {
      const badValue = await refusal(
        System.lines.sessions
          .search()
          .where((f) => f._state.eq('Sleeping' as LineSessionState))
          .first(),
      );
      assert.equal(badValue.status, 400);
      assert.equal(badValue.request, 'POST /api/v1/sessions/search');
      assert.match(JSON.stringify(badValue.details), /where\.value/);
      const missing = await refusal(System.lines.sessions.fetch('00000000-0000-4000-8000-000000000000'));
      assert.equal(missing.code, 'SESSION_NOT_FOUND');
      assert.equal(missing.status, 404);
      const none = await refusal(
        System.lines.lines
          .search()
          .where((f) => f.__name.eq(unique('no such line')))
          .first(),
      );
      assert.equal(none.code, 'NO_MATCH');
      const unreachable = await refusal(
        createSystem({ url: 'http://127.0.0.1:9', token: 't' }).lines.lines.search().count(),
      );
      assert.equal(unreachable.code, 'NETWORK_ERROR');
      assert.equal(unreachable.status, 0);
    });
  },
  { listen: true, plugins: [stubProviders()] },
);
