/**
 * The operator-event catalogue as the vendor document states it (issue 20), driven through real
 * webhooks and REST calls, with the official `centrifuge` client connected as the document shows.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { ApiCallbackServer } from '../fakes/api-callback.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, createUser } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { apiWebhook, clientMessage } from '../helpers/webhooks.ts';
import { connectOperator, type OperatorApp } from './operator-client.ts';

async function userRow(ctx: TestContext, id: string) {
  const [row] = await queryRows<{ status: string; connections: number }>(
    ctx.db,
    sql`SELECT status, connections FROM users WHERE id = ${id}`,
  );
  return row!;
}

async function sessionOf(ctx: TestContext, channelId: string) {
  const res = await ctx.request('POST', '/api/v1/sessions/search', {
    body: { where: { field: 'channelId', op: 'eq', value: channelId } },
  });
  return res.body.items[0];
}

/** A line served by an operator and a supervisor; the supervisor is away, so routing picks the operator. */
async function staffedLine(ctx: TestContext, queue: Record<string, unknown> = {}) {
  const operator = await createUser(ctx, 'operator');
  const supervisor = await createUser(ctx, 'supervisor');
  const line = await createLine(ctx, { operatorIds: [operator.id, supervisor.id], queue });
  const channel = await createChannel(ctx, line.id, 'api');
  return { operator, supervisor, line, channel };
}

async function connectAway(ctx: TestContext, user: { id: string; token: string }): Promise<OperatorApp> {
  const app = await connectOperator(ctx.url!, user.token);
  await waitFor(async () => (await userRow(ctx, user.id)).status === 'online', 3000, 'online');
  await app.centrifuge.rpc('setStatus', { status: 'away' });
  return app;
}

/** A session of the channel's client, with the operator holding it. */
async function heldSession(ctx: TestContext, channelId: string, clientId: string, operatorId: string) {
  await apiWebhook(ctx, channelId, clientMessage(clientId, 'hello'));
  return waitFor(async () => {
    const s = await sessionOf(ctx, channelId);
    return s?.operatorId === operatorId ? s : null;
  });
}

/** A later publication on the app's channel: what was published before it has arrived by then. */
async function drain(ctx: TestContext, app: OperatorApp, userId: string) {
  const marker = `marker-${Date.now()}`;
  await ctx.platform.live.publish(`operator:${userId}`, {
    event: 'operatorLoggedOut',
    data: { operatorId: marker },
  });
  await app.waitForEvent('operatorLoggedOut', (d) => d.operatorId === marker);
}

describeEachDatabase(
  'the operator-event catalogue',
  (ctx) => {
    let callback: ApiCallbackServer;
    before(async () => {
      callback = await ApiCallbackServer.start();
    });
    after(() => callback.close());

    it('closes a session as the client on the api channel’s "close" and tells its operator and supervisors sessionClosedByClient', async () => {
      const { operator, supervisor, channel } = await staffedLine(ctx());
      const sup = await connectAway(ctx(), supervisor);
      const op = await connectOperator(ctx().url!, operator.token);
      try {
        const s = await heldSession(ctx(), channel.id, 'closer-1', operator.id);
        const res = await apiWebhook(ctx(), channel.id, {
          event: 'close',
          from: { id: 'closer-1' },
          reason: 'chat ended',
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const told = await op.waitForEvent('sessionClosedByClient', (d) => d.sessionId === s.id);
        assert.equal(told.data.chatId, s.id);
        assert.ok(!Number.isNaN(Date.parse(told.data.closedAt)));
        await sup.waitForEvent('sessionClosedByClient', (d) => d.sessionId === s.id);

        const closed = (await ctx().request('GET', `/api/v1/sessions/${s.id}`)).body;
        assert.equal(closed.state, 'Closed');
        assert.deepEqual(closed.closedBy, { type: 'client', id: s.clientIds[0] });
        const history = (await ctx().request('GET', `/api/v1/sessions/${s.id}/history`)).body.items;
        const last = history.at(-1);
        assert.equal(last.event, 'close');
        assert.equal(last.toState, 'Closed');
        assert.deepEqual(last.actor, { type: 'client', id: s.clientIds[0] });
        assert.equal(last.details.reason, 'chat ended');

        // Nothing open is left to close: a second "close" is acknowledged and changes nothing.
        const again = await apiWebhook(ctx(), channel.id, { event: 'close', from: { id: 'closer-1' } });
        assert.equal(again.status, 200);
        // The client's next message opens a new session, chained to the closed one.
        await apiWebhook(ctx(), channel.id, clientMessage('closer-1', 'me again'));
        const next = await waitFor(async () => {
          const x = await sessionOf(ctx(), channel.id);
          return x && x.id !== s.id ? x : null;
        });
        assert.equal(next.previousSessionId, s.id);
      } finally {
        op.close();
        sup.close();
      }
    });

    it('tells the operator who receives a session from a bot chatSessionSwitchedFromBotToOperator, with the session view', async () => {
      const bot = (
        await ctx().request('POST', '/api/v1/bots', {
          body: {
            name: 'Greeter',
            settings: { webhookUrl: `${callback.url}/bot`, secret: 'bot-webhook-secret-0123456789' },
          },
        })
      ).body;
      const botToken = (await ctx().request('POST', `/api/v1/bots/${bot.id}/tokens`)).body.token;
      const operator = await createUser(ctx(), 'operator');
      const other = await createUser(ctx(), 'operator');
      const group = (
        await ctx().request('POST', '/api/v1/groups', {
          body: { name: 'Second line', memberIds: [other.id] },
        })
      ).body;
      const line = await createLine(ctx(), {
        operatorIds: [operator.id],
        groupIds: [group.id],
        botId: bot.id,
      });
      const channel = await createChannel(ctx(), line.id, 'api');
      const op = await connectOperator(ctx().url!, operator.token);
      let second: OperatorApp | null = null;
      try {
        await apiWebhook(ctx(), channel.id, clientMessage('from-bot-1', 'I need a human'));
        const s = await waitFor(() => sessionOf(ctx(), channel.id));
        assert.equal(s.state, 'AssignedToBot');
        const handover = await ctx().request('POST', `/api/v1/sessions/${s.id}/handover`, {
          token: botToken,
        });
        assert.equal(handover.status, 200, JSON.stringify(handover.body));
        const switched = await op.waitForEvent('chatSessionSwitchedFromBotToOperator', (d) => d.id === s.id);
        assert.equal(switched.data.chatId, s.id);
        assert.equal(switched.data.status, 'AssignedToOperator');
        assert.equal(switched.data.operatorId, operator.id);
        assert.equal(switched.data.operatorType, 'operator');
        assert.equal(switched.data.lastMessage.text, 'I need a human');
        const order = op.events.filter((e) => e.data?.id === s.id).map((e) => e.event);
        assert.deepEqual(order, [
          'chatSessionStarted',
          'chatSessionAdded',
          'chatSessionSwitchedFromBotToOperator',
        ]);

        // Once an operator has had it, the session going on to another operator (through the queue,
        // or by a transfer) is no switch from the bot.
        second = await connectOperator(ctx().url!, other.token);
        await waitFor(async () => (await userRow(ctx(), other.id)).status === 'online', 3000, 'online');
        const toGroup = await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, {
          body: { groupId: group.id },
        });
        assert.equal(toGroup.status, 200, JSON.stringify(toGroup.body));
        await second.waitForEvent('chatSessionAdded', (d) => d.id === s.id && d.operatorId === other.id);
        const transfer = await ctx().request('POST', `/api/v1/sessions/${s.id}/transfer`, {
          body: { operatorId: operator.id },
        });
        assert.equal(transfer.status, 200, JSON.stringify(transfer.body));
        await waitFor(
          () => op.events.filter((e) => e.event === 'chatSessionAdded' && e.data.id === s.id).length === 2,
          3000,
          'the transfer back',
        );
        await drain(ctx(), second, other.id);
        await drain(ctx(), op, operator.id);
        const switches = [...op.events, ...second.events].filter(
          (e) => e.event === 'chatSessionSwitchedFromBotToOperator',
        );
        assert.equal(switches.length, 1, 'told once, when the session left the bot');
      } finally {
        op.close();
        second?.close();
      }
    });

    it('tells only the older workspace chatUserExists: not the new login, not a reload of the same login', async () => {
      const operator = await createUser(ctx(), 'operator');
      const older = await connectOperator(ctx().url!, operator.token);
      await waitFor(async () => (await userRow(ctx(), operator.id)).connections === 1, 3000, 'counted');
      // A reload of the same workspace: its new page connects before the old page's socket is gone.
      const reload = await connectOperator(ctx().url!, operator.token);
      await waitFor(async () => (await userRow(ctx(), operator.id)).connections === 2, 3000, 'counted');
      older.close();
      await drain(ctx(), reload, operator.id);
      assert.equal(reload.centrifuge.state, 'connected', JSON.stringify(reload.disconnects));
      assert.deepEqual(
        [...older.events, ...reload.events].filter((e) => e.event === 'chatUserExists'),
        [],
        'a reload of the same login is not told chatUserExists',
      );

      // A second login (a new token) closes the older workspace and is told nothing itself.
      const secondLogin = (await ctx().services.users.login(operator.login, 'password-123')).token;
      const newer = await connectOperator(ctx().url!, secondLogin);
      try {
        const told = await reload.waitForEvent('chatUserExists');
        assert.equal(told.data.operatorId, operator.id);
        await waitFor(() => reload.disconnects.find((d) => d.code === 4502), 5000, 'the older closed');
        await drain(ctx(), newer, operator.id);
        assert.equal(newer.centrifuge.state, 'connected', JSON.stringify(newer.disconnects));
        assert.deepEqual(
          newer.events.filter((e) => e.event === 'chatUserExists'),
          [],
          'the new login is not told chatUserExists',
        );
      } finally {
        reload.close();
        newer.close();
      }
    });

    it('never replays chatUserExists from history to a workspace that recovers later', async () => {
      const operator = await createUser(ctx(), 'operator');
      const firstLogin = operator.token;
      const secondLogin = (await ctx().services.users.login(operator.login, 'password-123')).token;
      // A workspace of the second login, away for a moment (it will recover what it missed).
      const away = await connectOperator(ctx().url!, secondLogin);
      await waitFor(async () => (await userRow(ctx(), operator.id)).connections === 1, 3000, 'counted');
      away.centrifuge.disconnect();
      await waitFor(async () => (await userRow(ctx(), operator.id)).connections === 0, 3000, 'gone');
      // Meanwhile the older login opens a workspace, and the second login closes it.
      const older = await connectOperator(ctx().url!, firstLogin);
      await waitFor(async () => (await userRow(ctx(), operator.id)).connections === 1, 3000, 'counted');
      const newer = await connectOperator(ctx().url!, secondLogin);
      try {
        await older.waitForEvent('chatUserExists');
        await waitFor(() => older.disconnects.find((d) => d.code === 4502), 5000, 'the older closed');
        const before = away.events.length;
        const recovered = new Promise<boolean>((resolve) =>
          away.centrifuge.once('subscribed', (c) => resolve(c.recovered)),
        );
        away.centrifuge.connect();
        assert.equal(await recovered, true, 'the stream is recovered');
        await drain(ctx(), away, operator.id);
        assert.deepEqual(
          away.events.slice(before).filter((e) => e.event === 'chatUserExists'),
          [],
          'chatUserExists is not part of the stream',
        );
        assert.equal(away.centrifuge.state, 'connected');
        assert.equal(newer.centrifuge.state, 'connected');
      } finally {
        older.close();
        newer.close();
        away.close();
      }
    });

    it('takes explicit presence from the api channel and counts typing and read receipts as presence', async () => {
      const { operator, supervisor, channel } = await staffedLine(ctx());
      const sup = await connectAway(ctx(), supervisor);
      const op = await connectOperator(ctx().url!, operator.token);
      try {
        const s = await heldSession(ctx(), channel.id, 'present-1', operator.id);
        const clientId = s.clientIds[0];
        const presence = () =>
          op.events
            .filter((e) => e.event === 'clientOnline' || e.event === 'clientOffline')
            .map((e) => e.event);

        assert.equal(
          (await apiWebhook(ctx(), channel.id, { event: 'offline', from: { id: 'present-1' } })).status,
          200,
        );
        const off = await op.waitForEvent('clientOffline', (d) => d.id === clientId);
        assert.equal(off.action, 'clientOffline');
        assert.equal(off.data.sessionId, s.id);
        await apiWebhook(ctx(), channel.id, { event: 'online', from: { id: 'present-1' } });
        await waitFor(() => presence().length === 2, 3000, 'clientOnline');
        assert.deepEqual(presence(), ['clientOffline', 'clientOnline']);
        // Already online: a second "online" tells nobody again.
        await apiWebhook(ctx(), channel.id, { event: 'online', from: { id: 'present-1' } });

        await apiWebhook(ctx(), channel.id, { event: 'offline', from: { id: 'present-1' } });
        await apiWebhook(ctx(), channel.id, { event: 'typing', from: { id: 'present-1' } });
        await waitFor(() => presence().length === 4, 3000, 'online again by typing');
        await apiWebhook(ctx(), channel.id, { event: 'offline', from: { id: 'present-1' } });
        await apiWebhook(ctx(), channel.id, { event: 'read', from: { id: 'present-1' } });
        await waitFor(() => presence().length === 6, 3000, 'online again by a read receipt');
        await drain(ctx(), op, operator.id);
        assert.deepEqual(presence(), [
          'clientOffline',
          'clientOnline',
          'clientOffline',
          'clientOnline',
          'clientOffline',
          'clientOnline',
        ]);
        const client = (await ctx().request('GET', `/api/v1/clients/${clientId}`)).body;
        assert.equal(client.online, true);
      } finally {
        op.close();
        sup.close();
      }
    });

    it('turns a silent client offline after the line’s own timeout, or the server default, and not while they write', async () => {
      const { operator, supervisor, line, channel } = await staffedLine(ctx());
      const bad = await ctx().request('PATCH', `/api/v1/lines/${line.id}`, {
        body: { queue: { clientOfflineTimeoutSeconds: -1 } },
      });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.body), /queue\.clientOfflineTimeoutSeconds/);
      const set = await ctx().request('PATCH', `/api/v1/lines/${line.id}`, {
        body: { queue: { clientOfflineTimeoutSeconds: 60 } },
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.equal(set.body.queue.clientOfflineTimeoutSeconds, 60);

      const sup = await connectAway(ctx(), supervisor);
      const op = await connectOperator(ctx().url!, operator.token);
      const sweep = () => ctx().platform.workspace.sweepPresence(60 * 60_000, 3600);
      const offline = (clientId: string) =>
        op.events.filter((e) => e.event === 'clientOffline' && e.data.id === clientId).length;
      try {
        const s = await heldSession(ctx(), channel.id, 'silent-1', operator.id);
        const clientId = s.clientIds[0];
        ctx().clock.set(new Date());
        ctx().clock.advance(40_000);
        // Still writing: a message 40 s in keeps the client online past 60 s from their first.
        await apiWebhook(ctx(), channel.id, clientMessage('silent-1', 'still here'));
        await op.waitForEvent('chatMessageCreated', (d) => d.message.text === 'still here');
        ctx().clock.advance(40_000);
        await sweep();
        await drain(ctx(), op, operator.id);
        assert.equal(offline(clientId), 0, 'a client who wrote 40 s ago is online');
        ctx().clock.advance(30_000);
        await sweep();
        await op.waitForEvent('clientOffline', (d) => d.id === clientId);

        // Without a line setting the server default applies: not at 59 minutes of 60, then yes.
        await ctx().request('PATCH', `/api/v1/lines/${line.id}`, {
          body: { queue: { clientOfflineTimeoutSeconds: null } },
        });
        await apiWebhook(ctx(), channel.id, { event: 'online', from: { id: 'silent-1' } });
        ctx().clock.advance(59 * 60_000);
        await sweep();
        await drain(ctx(), op, operator.id);
        assert.equal(offline(clientId), 1, 'within the server default');
        ctx().clock.advance(2 * 60_000);
        await sweep();
        await waitFor(() => offline(clientId) === 2, 3000, 'offline after the server default');
      } finally {
        op.close();
        sup.close();
      }
    });

    it('keeps operatorStatusChanged, our own event, on the operator’s channel', async () => {
      const operator = await createUser(ctx(), 'operator');
      const app = await connectOperator(ctx().url!, operator.token);
      try {
        await waitFor(async () => (await userRow(ctx(), operator.id)).status === 'online', 3000, 'online');
        await app.centrifuge.rpc('setStatus', { status: 'busy' });
        const changed = await app.waitForEvent('operatorStatusChanged', (d) => d.status === 'busy');
        assert.deepEqual(changed.data, { operatorId: operator.id, status: 'busy', previous: 'online' });
      } finally {
        app.close();
      }
    });
  },
  // The server default is an hour here, so the background presence sweep agrees with the tests'.
  { background: true, listen: true, clientOfflineTimeoutSeconds: 3600 },
);
