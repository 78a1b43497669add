import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { ApiCallbackServer } from '../fakes/api-callback.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, createUser } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { apiWebhook, clientMessage } from '../helpers/webhooks.ts';
import { connectOperator } from './operator-client.ts';

async function lineWithOperator(ctx: TestContext) {
  const operator = await createUser(ctx, 'operator');
  const supervisor = await createUser(ctx, 'supervisor');
  const line = await createLine(ctx, { operatorIds: [operator.id, supervisor.id] });
  const channel = await createChannel(ctx, line.id, 'api');
  return { operator, supervisor, line, channel };
}

async function sessionOf(ctx: TestContext, channelId: string) {
  const res = await ctx.request('POST', '/api/v1/sessions/search', {
    body: { where: { field: 'channelId', op: 'eq', value: channelId } },
  });
  return res.body.items[0];
}

describeEachDatabase(
  'live operator events',
  (ctx) => {
    let callback: ApiCallbackServer;
    before(async () => {
      callback = await ApiCallbackServer.start();
    });
    after(() => callback.close());

    it('delivers chatSessionStarted and chatMessageCreated to the seed’s snippet after webhooks arrive', async () => {
      const { operator, channel } = await lineWithOperator(ctx());
      const app = await connectOperator(ctx().url!, operator.token);
      try {
        // Connecting made the operator online, so routing gives them the new session.
        await apiWebhook(ctx(), channel.id, clientMessage('live-1', 'hello'));
        const started = await app.waitForEvent('chatSessionStarted');
        const s = await sessionOf(ctx(), channel.id);
        assert.equal(started.data.id, s.id);
        assert.equal(started.data.chatId, s.id);
        assert.equal(started.data.status, 'AssignedToOperator');
        assert.equal(started.data.channel, 'api');
        assert.equal(started.data.lastMessage.text, 'hello');
        assert.equal(started.data.clientExternalId, 'live-1');
        assert.equal(started.data.unreadClientMessageCount, 1);
        assert.equal(typeof started.data.timerFirstAnswer, 'number');
        for (const key of [
          'name',
          'markedAsSpam',
          'operatorId',
          'startedAt',
          'lastMessageCreatedAt',
          'operatorAssignedAt',
          'previousOperator',
        ]) {
          assert.ok(key in started.data, key);
        }
        await app.waitForEvent('chatSessionAdded', (d) => d.id === s.id);
        await apiWebhook(ctx(), channel.id, clientMessage('live-1', 'are you there?'));
        const created = await app.waitForEvent(
          'chatMessageCreated',
          (d) => d.message.text === 'are you there?',
        );
        assert.equal(created.data.sessionId, s.id);
        assert.equal(created.data.message.direction, 'incoming');
      } finally {
        app.close();
      }
    });

    it('recovers exactly the missed events after a disconnect', async () => {
      const { operator, channel } = await lineWithOperator(ctx());
      const app = await connectOperator(ctx().url!, operator.token);
      try {
        await apiWebhook(ctx(), channel.id, clientMessage('live-2', 'first'));
        await app.waitForEvent('chatSessionAdded');
        app.centrifuge.disconnect();
        for (const text of ['missed one', 'missed two'])
          await apiWebhook(ctx(), channel.id, clientMessage('live-2', text));
        const before = app.events.length;
        const recovered = new Promise<boolean>((resolve) =>
          app.centrifuge.once('subscribed', (c) => resolve(c.recovered)),
        );
        app.centrifuge.connect();
        assert.equal(await recovered, true);
        await waitFor(() => app.events.length >= before + 2, 5000, 'the missed events');
        assert.deepEqual(
          app.events
            .slice(before)
            .filter((e) => e.event === 'chatMessageCreated')
            .map((e) => e.data.message.text),
          ['missed one', 'missed two'],
        );
      } finally {
        app.close();
      }
    });

    it('tells the older workspace chatUserExists and closes it when the operator logs in again', async () => {
      const { operator } = await lineWithOperator(ctx());
      const first = await connectOperator(ctx().url!, operator.token);
      await waitFor(async () => {
        const [row] = await queryRows<{ connections: number }>(
          ctx().db,
          sql`SELECT connections FROM users WHERE id = ${operator.id}`,
        );
        return row!.connections === 1;
      });
      // Logging in again issues a new token: a new workspace.
      const secondLogin = (await ctx().services.users.login(operator.login, 'password-123')).token;
      const second = await connectOperator(ctx().url!, secondLogin);
      try {
        const told = await first.waitForEvent('chatUserExists');
        assert.equal(told.data.operatorId, operator.id);
        await waitFor(() => first.disconnects.find((d) => d.code === 4502), 5000, 'the old workspace closed');
        assert.equal(first.centrifuge.state, 'disconnected');
        assert.equal(second.centrifuge.state, 'connected', JSON.stringify(second.disconnects));
      } finally {
        first.close();
        second.close();
      }
    });

    it('tells a blocked operator operatorBlocked and throws them out for good', async () => {
      const { operator } = await lineWithOperator(ctx());
      const app = await connectOperator(ctx().url!, operator.token);
      try {
        await ctx().request('PATCH', `/api/v1/users/${operator.id}`, { body: { blocked: true } });
        await app.waitForEvent('operatorBlocked');
        await waitFor(() => app.disconnects.find((d) => d.code === 4501), 5000, 'the terminal disconnect');
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(app.centrifuge.state, 'disconnected', 'the SDK does not reconnect');
      } finally {
        app.close();
      }
    });

    it('refuses a bad token with 3500 and the SDK stays disconnected', async () => {
      await assert.rejects(connectOperator(ctx().url!, 'oml_not-a-token'), /disconnected 3500/);
    });

    it('lets a supervisor watch a line and see operator typing, and refuses operators', async () => {
      const { operator, supervisor, line, channel } = await lineWithOperator(ctx());
      const op = await connectOperator(ctx().url!, operator.token);
      const sup = await connectOperator(ctx().url!, supervisor.token);
      try {
        await apiWebhook(ctx(), channel.id, clientMessage('live-3', 'help'));
        const s = await waitFor(async () => {
          const x = await sessionOf(ctx(), channel.id);
          return x?.operatorId ? x : null;
        });
        const holder = s.operatorId === operator.id ? op : sup;
        const watched: any[] = [];
        const sub = sup.centrifuge.newSubscription(`session:${s.id}`);
        sub.on('publication', (p) => watched.push(p.data));
        const subscribed = new Promise<void>((resolve) => sub.once('subscribed', () => resolve()));
        sub.subscribe();
        await subscribed;
        await holder.centrifuge.rpc('typing', { sessionId: s.id });
        await waitFor(
          () => watched.find((e) => e.event === 'typing' && e.data.from === 'operator'),
          5000,
          'typing',
        );
        const denied = op.centrifuge.newSubscription(`line:${line.id}`);
        // A permanent refusal ends the subscription with the server's code (103 permission denied).
        const refused = new Promise<number>((resolve) => {
          denied.once('error', (e: any) => resolve(e.error.code));
          denied.once('unsubscribed', (e: any) => resolve(e.code));
        });
        denied.subscribe();
        assert.equal(await refused, 103);
        sub.unsubscribe();
        denied.unsubscribe();
      } finally {
        op.close();
        sup.close();
      }
    });

    it('forwards client typing to the session’s operator', async () => {
      const { operator, channel } = await lineWithOperator(ctx());
      const app = await connectOperator(ctx().url!, operator.token);
      try {
        await apiWebhook(ctx(), channel.id, clientMessage('live-4', 'hi'));
        await app.waitForEvent('chatSessionAdded');
        await apiWebhook(ctx(), channel.id, { event: 'typing', from: { id: 'live-4' } });
        const typing = await app.waitForEvent('typing', (d) => d.from === 'client');
        assert.equal(typing.data.sessionId, (await sessionOf(ctx(), channel.id)).id);
      } finally {
        app.close();
      }
    });

    it('makes an operator online while connected and offline after the grace period', async () => {
      const { operator } = await lineWithOperator(ctx());
      const app = await connectOperator(ctx().url!, operator.token);
      const status = async () =>
        (
          await queryRows<{ status: string }>(
            ctx().db,
            sql`SELECT status FROM users WHERE id = ${operator.id}`,
          )
        )[0]!.status;
      await waitFor(async () => (await status()) === 'online', 3000, 'online');
      app.close();
      await waitFor(async () => {
        const [row] = await queryRows<{ connections: number }>(
          ctx().db,
          sql`SELECT connections FROM users WHERE id = ${operator.id}`,
        );
        return row!.connections === 0;
      });
      ctx().clock.advance(10 * 60_000);
      await ctx().platform.workspace.sweepPresence(1000);
      assert.equal(await status(), 'offline');
    });

    it('answers unknown RPC methods with 104', async () => {
      const { operator } = await lineWithOperator(ctx());
      const app = await connectOperator(ctx().url!, operator.token);
      try {
        await assert.rejects(app.centrifuge.rpc('launchRockets', {}), (e: any) => e.code === 104);
        assert.deepEqual((await app.centrifuge.rpc('setStatus', { status: 'away' })).data, {
          status: 'away',
        });
      } finally {
        app.close();
      }
    });
  },
  { background: true, listen: true },
);
