import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { sessionRepository } from '../../src/domain/session/session.repository.ts';
import { stubProviders } from '../fakes/stub-providers.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import {
  addMessage,
  createChannel,
  createLine,
  createUser,
  createWorld,
  openSession,
  unique,
} from '../helpers/factories.ts';

describeEachDatabase(
  'sessions',
  (ctx) => {
    it('starts a conversation with a Telegram username, creating the client once', async () => {
      const { channel } = await createWorld(ctx(), 'telegram');
      const account = unique('ann').replace(/-/g, '_');
      const first = await ctx().request('POST', '/api/v1/sessions', {
        body: { channelId: channel.id, account: `@${account}` },
      });
      assert.equal(first.status, 201);
      assert.equal(first.body.state, 'Waiting');
      const again = await ctx().request('POST', '/api/v1/sessions', {
        body: { channelId: channel.id, account },
      });
      assert.equal(again.status, 200, 'the open session is returned, not a second one');
      assert.equal(again.body.id, first.body.id);
      const client = await ctx().request('GET', `/api/v1/clients/${first.body.clientIds[0]}`);
      assert.equal(client.body.username, account);
    });

    it('finds a client by account among live clients only', async () => {
      const { channel } = await createWorld(ctx(), 'telegram');
      const account = unique('Bob').replace(/-/g, '_');
      const first = await openSession(ctx(), channel.id, account);
      await ctx().request('POST', `/api/v1/sessions/${first.id}/close`);
      const [deleted] = first.clientIds;
      await ctx().db.execute(sql`UPDATE clients SET deleted_at = now() WHERE id = ${deleted}`);
      const again = await openSession(ctx(), channel.id, account.toLowerCase());
      assert.notEqual(again.clientIds[0], deleted, 'the deleted client is not found');
      const third = await openSession(ctx(), channel.id, account.toUpperCase());
      assert.equal(third.id, again.id, 'the live client is found, in any case');
    });

    it('opens for the client whose external id is the account when none has it as username', async () => {
      const { channel } = await createWorld(ctx(), 'telegram');
      const account = unique('carol').replace(/-/g, '_');
      const [client] = await queryRows<{ id: string }>(
        ctx().db,
        sql`INSERT INTO clients (channel_id, external_id, username)
          VALUES (${channel.id}, ${account}, 'someone_else') RETURNING id`,
      );
      const res = await ctx().request('POST', '/api/v1/sessions', {
        body: { channelId: channel.id, account },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.deepEqual(res.body.clientIds, [client!.id]);
    });

    it('reads the account as a phone for WhatsApp and an e-mail for inbox channels', async () => {
      const line = await createLine(ctx());
      const wa = await createChannel(ctx(), line.id, 'whatsapp');
      const s1 = await ctx().request('POST', '/api/v1/sessions', {
        body: { channelId: wa.id, account: '+1 (650) 555-1234' },
      });
      assert.equal(s1.status, 201);
      assert.equal(
        (await ctx().request('GET', `/api/v1/clients/${s1.body.clientIds[0]}`)).body.phone,
        '16505551234',
      );
      const inbox = await createChannel(ctx(), line.id, 'inbox');
      const s2 = await ctx().request('POST', '/api/v1/sessions', {
        body: { channelId: inbox.id, account: 'Ann@Example.COM' },
      });
      assert.equal(
        (await ctx().request('GET', `/api/v1/clients/${s2.body.clientIds[0]}`)).body.email,
        'ann@example.com',
      );
      const bad = await ctx().request('POST', '/api/v1/sessions', {
        body: { channelId: inbox.id, account: 'not an email' },
      });
      assert.equal(bad.status, 422);
      assert.equal(bad.body.error.code, 'INVALID_ACCOUNT');
    });

    it('assigns a session an operator starts to that operator', async () => {
      const { channel, operator } = await createWorld(ctx(), 'telegram');
      const res = await ctx().request('POST', '/api/v1/sessions', {
        token: operator.token,
        body: { channelId: channel.id, account: unique('u').replace(/-/g, '_') },
      });
      assert.equal(res.status, 201);
      assert.equal(res.body.state, 'AssignedToOperator');
      assert.equal(res.body.operatorId, operator.id);
      assert.ok(res.body.operatorAssignedAt);
    });

    it('refuses to start a conversation on a disconnected channel', async () => {
      const { channel } = await createWorld(ctx(), 'telegram');
      await ctx().request('POST', `/api/v1/channels/${channel.id}/disconnect`);
      const res = await ctx().request('POST', '/api/v1/sessions', {
        body: { channelId: channel.id, account: 'someone' },
      });
      assert.equal(res.status, 409);
      assert.equal(res.body.error.code, 'CHANNEL_NOT_ACTIVE');
    });

    it('leaves exactly one open session when 50 callers open one for the same client at once', async () => {
      const { channel } = await createWorld(ctx(), 'telegram');
      const account = unique('race').replace(/-/g, '_');
      const replies = await Promise.all(
        Array.from({ length: 50 }, () =>
          ctx().request('POST', '/api/v1/sessions', { body: { channelId: channel.id, account } }),
        ),
      );
      assert.ok(
        replies.every((r) => r.status === 200 || r.status === 201),
        JSON.stringify(replies.map((r) => r.body)),
      );
      assert.equal(new Set(replies.map((r) => r.body.id)).size, 1);
      assert.equal(replies.filter((r) => r.status === 201).length, 1);
      const open = await ctx().request('POST', '/api/v1/sessions/search', {
        body: {
          where: {
            and: [
              { field: 'channelId', op: 'eq', value: channel.id },
              { field: 'clientIds', op: 'all', value: [replies[0]!.body.clientIds[0]] },
              { field: 'state', op: 'nin', value: ['Closed', 'MarkedAsSpam'] },
            ],
          },
        },
      });
      assert.equal(open.body.total, 1);
    });

    it('never reopens a closed session: the next one is new and chained to it', async () => {
      const { channel } = await createWorld(ctx(), 'telegram');
      const account = unique('chain').replace(/-/g, '_');
      const first = await openSession(ctx(), channel.id, account);
      const closed = await ctx().request('POST', `/api/v1/sessions/${first.id}/close`);
      assert.equal(closed.body.state, 'Closed');
      assert.deepEqual(closed.body.closedBy, {
        type: 'admin',
        id: (await ctx().request('GET', '/api/v1/me')).body.id,
      });
      const assign = await ctx().request('POST', `/api/v1/sessions/${first.id}/assign`, {
        body: { operatorId: closed.body.closedBy.id },
      });
      assert.equal(assign.status, 409);
      assert.equal(assign.body.error.code, 'SESSION_CLOSED');
      const second = await openSession(ctx(), channel.id, account);
      assert.notEqual(second.id, first.id);
      assert.equal(second.previousSessionId, first.id);
      assert.equal(second.state, 'Waiting');
    });

    it('finds the open session of a client as the lines API does (clients all, state neq Closed)', async () => {
      const { channel } = await createWorld(ctx(), 'telegram');
      const account = unique('find').replace(/-/g, '_');
      const first = await openSession(ctx(), channel.id, account);
      await ctx().request('POST', `/api/v1/sessions/${first.id}/close`);
      const second = await openSession(ctx(), channel.id, account);
      const res = await ctx().request('POST', '/api/v1/sessions/search', {
        body: {
          where: {
            and: [
              { field: '__deletedAt', op: 'eq', value: null },
              { field: '_clients', op: 'all', value: [{ id: second.clientIds[0] }] },
              { field: '_state', op: 'neq', value: 'Closed' },
            ],
          },
          size: 1,
        },
      });
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.items.map((s: { id: string }) => s.id),
        [second.id],
      );
    });

    it('assigns to an operator, a bot and a group, recording each transition in the history', async () => {
      const { channel, operator } = await createWorld(ctx(), 'telegram');
      const bot = (
        await ctx().request('POST', '/api/v1/bots', {
          body: { name: 'Greeter', settings: { secret: 'a'.repeat(20) } },
        })
      ).body;
      assert.deepEqual(bot.settings, { secret: '********' });
      const group = (await ctx().request('POST', '/api/v1/groups', { body: { name: unique('g') } })).body;
      const s = await openSession(ctx(), channel.id);
      const toOp = await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, {
        body: { operatorId: operator.id },
      });
      assert.equal(toOp.body.state, 'AssignedToOperator');
      const toBot = await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, {
        body: { botId: bot.id },
      });
      assert.equal(toBot.body.state, 'AssignedToBot');
      assert.equal(toBot.body.operatorId, null);
      const toGroup = await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, {
        body: { groupId: group.id },
      });
      assert.equal(toGroup.body.state, 'Waiting');
      assert.equal(toGroup.body.operatorGroupId, group.id);
      const history = await ctx().request('GET', `/api/v1/sessions/${s.id}/history`);
      assert.deepEqual(
        history.body.items.map((h: { event: string; fromState: string | null; toState: string }) => [
          h.event,
          h.fromState,
          h.toState,
        ]),
        [
          ['open', null, 'Waiting'],
          ['assignOperator', 'Waiting', 'AssignedToOperator'],
          ['assignBot', 'AssignedToOperator', 'AssignedToBot'],
          ['assignGroup', 'AssignedToBot', 'Waiting'],
        ],
      );
      assert.ok(
        history.body.items.every(
          (h: { actor: { type: string }; at: string }) => h.actor.type === 'admin' && h.at,
        ),
      );
      assert.equal(history.body.items[1].details.operatorId, operator.id);
    });

    it('refuses an assignment body with none or two targets, and targets that do not exist', async () => {
      const { channel } = await createWorld(ctx(), 'telegram');
      const s = await openSession(ctx(), channel.id);
      const nobody = '00000000-0000-4000-8000-000000000000';
      assert.equal(
        (await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, { body: {} })).status,
        400,
      );
      const two = await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, {
        body: { operatorId: nobody, botId: nobody },
      });
      assert.equal(two.status, 400);
      for (const [field, code] of [
        ['operatorId', 'ASSIGNEE_NOT_FOUND'],
        ['botId', 'TARGET_BOT_NOT_FOUND'],
        ['groupId', 'GROUP_NOT_FOUND'],
      ]) {
        const res = await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, {
          body: { [field!]: nobody },
        });
        assert.equal(res.status, 422);
        assert.equal(res.body.error.code, code);
      }
    });

    it('marks a session as spam (closing it) and refuses it for internal and support channels', async () => {
      const { channel } = await createWorld(ctx(), 'telegram');
      const s = await openSession(ctx(), channel.id);
      const spam = await ctx().request('POST', `/api/v1/sessions/${s.id}/spam`);
      assert.equal(spam.status, 200);
      assert.equal(spam.body.state, 'MarkedAsSpam');
      assert.equal(spam.body.markedAsSpam, true);
      assert.ok(spam.body.closedAt);
      const line = await createLine(ctx());
      for (const type of ['internal', 'support'] as const) {
        const ch = await createChannel(ctx(), line.id, type);
        const t = await openSession(ctx(), ch.id);
        const res = await ctx().request('POST', `/api/v1/sessions/${t.id}/spam`);
        assert.equal(res.status, 409);
        assert.equal(res.body.error.code, 'SPAM_NOT_ALLOWED_FOR_CHANNEL_TYPE');
      }
    });

    it('unmarks only the last session of the chain, back to Closed', async () => {
      const { channel } = await createWorld(ctx(), 'telegram');
      const account = unique('spam').replace(/-/g, '_');
      const first = await openSession(ctx(), channel.id, account);
      await ctx().request('POST', `/api/v1/sessions/${first.id}/spam`);
      const second = await openSession(ctx(), channel.id, account);
      assert.equal(second.previousSessionId, first.id, 'a spam session never reopens either');
      const refused = await ctx().request('DELETE', `/api/v1/sessions/${first.id}/spam`);
      assert.equal(refused.status, 409);
      assert.equal(refused.body.error.code, 'UNMARK_SPAM_NOT_LAST_IN_CHAIN');
      await ctx().request('POST', `/api/v1/sessions/${second.id}/spam`);
      const ok = await ctx().request('DELETE', `/api/v1/sessions/${second.id}/spam`);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.state, 'Closed');
      assert.equal(ok.body.markedAsSpam, false);
    });

    it('unmarks any session of an inbox channel', async () => {
      const line = await createLine(ctx());
      const inbox = await createChannel(ctx(), line.id, 'inbox');
      const first = await openSession(ctx(), inbox.id, 'mail@example.com');
      await ctx().request('POST', `/api/v1/sessions/${first.id}/spam`);
      await openSession(ctx(), inbox.id, 'mail@example.com');
      const res = await ctx().request('DELETE', `/api/v1/sessions/${first.id}/spam`);
      assert.equal(res.status, 200);
      assert.equal(res.body.state, 'Closed');
    });

    it('pages messages newest first with a cursor and gives the last message', async () => {
      const { channel } = await createWorld(ctx(), 'telegram');
      const s = await openSession(ctx(), channel.id);
      for (let i = 1; i <= 5; i++) await addMessage(ctx(), s, { text: `m${i}` });
      const p1 = await ctx().request('GET', `/api/v1/sessions/${s.id}/messages?limit=2`);
      assert.deepEqual(
        p1.body.items.map((m: { text: string }) => m.text),
        ['m5', 'm4'],
      );
      const p2 = await ctx().request(
        'GET',
        `/api/v1/sessions/${s.id}/messages?limit=2&cursor=${p1.body.nextCursor}`,
      );
      assert.deepEqual(
        p2.body.items.map((m: { text: string }) => m.text),
        ['m3', 'm2'],
      );
      const p3 = await ctx().request(
        'GET',
        `/api/v1/sessions/${s.id}/messages?limit=2&before=${p2.body.nextCursor}`,
      );
      assert.deepEqual(
        p3.body.items.map((m: { text: string }) => m.text),
        ['m1'],
      );
      assert.equal(p3.body.nextCursor, null);
      assert.equal(p3.body.total, 5, 'total counts every message, not the page');
      const last = await ctx().request('GET', `/api/v1/sessions/${s.id}/last-message`);
      assert.equal(last.body.text, 'm5');
      assert.deepEqual(last.body.sender, { type: 'client', id: null });
      const empty = await openSession(ctx(), channel.id);
      assert.equal((await ctx().request('GET', `/api/v1/sessions/${empty.id}/last-message`)).body, null);
    });

    it('searches messages by text and direction within visible sessions', async () => {
      const { channel } = await createWorld(ctx(), 'telegram');
      const s = await openSession(ctx(), channel.id);
      const word = unique('needle');
      await addMessage(ctx(), s, { text: `find the ${word} here` });
      await addMessage(ctx(), s, { text: 'other', direction: 'outgoing', senderType: 'operator' });
      const res = await ctx().request('POST', '/api/v1/messages/search', {
        body: {
          where: {
            and: [
              { field: 'text', op: 'like', value: `%${word}%` },
              { field: 'direction', op: 'eq', value: 'incoming' },
            ],
          },
        },
      });
      assert.equal(res.body.total, 1);
      const op = await createUser(ctx(), 'operator');
      const hidden = await ctx().request('POST', '/api/v1/messages/search', {
        token: op.token,
        body: { where: { field: 'text', op: 'like', value: `%${word}%` } },
      });
      assert.equal(hidden.body.total, 0);
    });

    it('orders a line queue by priority then age', async () => {
      const { channel, line } = await createWorld(ctx(), 'telegram');
      const a = await openSession(ctx(), channel.id);
      const b = await openSession(ctx(), channel.id);
      const c = await openSession(ctx(), channel.id);
      // Priorities are set by routing later; set them directly here.
      const { sessionRepository } = await import('../../src/domain/session/session.repository.ts');
      await sessionRepository.update(ctx().db, c.id, { priority: 2 });
      await sessionRepository.update(ctx().db, a.id, { priority: 0 });
      const res = await ctx().request('POST', '/api/v1/sessions/search', {
        body: {
          where: {
            and: [
              { field: 'lineId', op: 'eq', value: line.id },
              { field: 'state', op: 'eq', value: 'Waiting' },
            ],
          },
          sort: [
            { field: 'priority', dir: 'desc' },
            { field: 'startedAt', dir: 'asc' },
          ],
        },
      });
      assert.deepEqual(
        res.body.items.map((s: { id: string }) => s.id),
        [c.id, b.id, a.id],
      );
      assert.deepEqual(
        res.body.items.map((s: { priority: string }) => s.priority),
        ['High', 'Medium', 'Low'],
      );
      const high = await ctx().request('POST', '/api/v1/sessions/search', {
        body: {
          where: {
            and: [
              { field: 'lineId', op: 'eq', value: line.id },
              { field: 'priority', op: 'gte', value: 'Medium' },
            ],
          },
        },
      });
      assert.equal(high.body.total, 2);
    });

    it('decides a change again when the session changed after it was read', async () => {
      const { channel, operator, supervisor } = await createWorld(ctx(), 'telegram');
      const session = await openSession(ctx(), channel.id);
      await assignTo(ctx(), session.id, operator.id);
      // Between the close's read and its write, the session moves to the supervisor.
      const reads = await closeInterfered(ctx(), session.id, 1, () =>
        ctx().db.execute(sql`UPDATE sessions SET operator_id = ${supervisor.id} WHERE id = ${session.id}`),
      );
      assert.equal(reads, 2, 'read, found changed at the write, read again');
      const closes = await closeEvents(ctx(), session.id);
      assert.deepEqual(
        closes.map((p) => p.previousOperatorId),
        [supervisor.id],
        'one close, decided on the row as it was when written',
      );
      const history = await ctx().request('GET', `/api/v1/sessions/${session.id}/history`);
      assert.equal(history.body.items.filter((h: { event: string }) => h.event === 'close').length, 1);
    });

    it('takes the row lock when the session keeps changing under optimistic writes', async () => {
      const { channel, operator } = await createWorld(ctx(), 'telegram');
      const session = await openSession(ctx(), channel.id);
      await assignTo(ctx(), session.id, operator.id);
      // Every optimistic attempt finds the row changed: a counter moves after each read.
      const reads = await closeInterfered(ctx(), session.id, Number.POSITIVE_INFINITY, () =>
        ctx().db.execute(
          sql`UPDATE sessions SET unread_by_operator = unread_by_operator + 1 WHERE id = ${session.id}`,
        ),
      );
      assert.equal(reads, 3, 'three optimistic attempts, then the locked write');
      assert.equal((await closeEvents(ctx(), session.id)).length, 1);
      const [row] = await queryRows<{ unread: number }>(
        ctx().db,
        sql`SELECT unread_by_operator AS unread FROM sessions WHERE id = ${session.id}`,
      );
      assert.equal(row?.unread, 3, 'the changes made meanwhile are kept');
    });
  },
  { plugins: [stubProviders()] },
);

async function assignTo(ctx: TestContext, sessionId: string, operatorId: string) {
  const res = await ctx.request('POST', `/api/v1/sessions/${sessionId}/assign`, { body: { operatorId } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

/** The close events recorded for a session. */
async function closeEvents(ctx: TestContext, sessionId: string) {
  const rows = await queryRows<{ payload: { event: string; previousOperatorId: string | null } }>(
    ctx.db,
    sql`SELECT payload FROM domain_events
        WHERE name = 'session.transitioned' AND aggregate_id = ${sessionId} ORDER BY id`,
  );
  return rows.map((r) => r.payload).filter((p) => p.event === 'close');
}

/**
 * Closes a session through the API while `change` runs right after each of the first `times`
 * versioned reads of it (another writer getting in between a read and the write decided on it).
 * Returns how many times the session was read so.
 */
async function closeInterfered(
  ctx: TestContext,
  sessionId: string,
  times: number,
  change: () => Promise<unknown>,
): Promise<number> {
  const original = sessionRepository.byIdVersioned;
  let reads = 0;
  sessionRepository.byIdVersioned = async (db, id) => {
    const read = await original(db, id);
    if (id === sessionId && reads++ < times) await change();
    return read;
  };
  try {
    const res = await ctx.request('POST', `/api/v1/sessions/${sessionId}/close`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.state, 'Closed');
  } finally {
    sessionRepository.byIdVersioned = original;
  }
  return reads;
}
