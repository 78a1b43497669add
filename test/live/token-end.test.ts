import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, createUser } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { apiWebhook, clientMessage } from '../helpers/webhooks.ts';
import { connectOperator, type OperatorApp } from './operator-client.ts';

async function sessionOf(ctx: TestContext, channelId: string) {
  const res = await ctx.request('POST', '/api/v1/sessions/search', {
    body: { where: { field: 'channelId', op: 'eq', value: channelId } },
  });
  return res.body.items[0];
}

/** A supervisor watching a session: proof that its events are published at all. */
async function watch(ctx: TestContext, sessionId: string) {
  const supervisor = await createUser(ctx, 'supervisor');
  const line = (await ctx.request('GET', `/api/v1/sessions/${sessionId}`)).body.lineId;
  const current = (await ctx.request('GET', `/api/v1/lines/${line}`)).body;
  await ctx.request('PATCH', `/api/v1/lines/${line}`, {
    body: { operatorIds: [...current.operatorIds, supervisor.id] },
  });
  const app = await connectOperator(ctx.url!, supervisor.token);
  const seen: any[] = [];
  const sub = app.centrifuge.newSubscription(`session:${sessionId}`);
  sub.on('publication', (p) => seen.push(p.data));
  const subscribed = new Promise<void>((resolve) => sub.once('subscribed', () => resolve()));
  sub.subscribe();
  await subscribed;
  return { app, seen };
}

/** An operator with a session of theirs, connected from `tabs` tabs with one token. */
async function operatorAtWork(ctx: TestContext, tabs = 1) {
  const operator = await createUser(ctx, 'operator');
  const line = await createLine(ctx, { operatorIds: [operator.id] });
  const channel = await createChannel(ctx, line.id, 'api');
  const apps: OperatorApp[] = [];
  for (let i = 0; i < tabs; i++) apps.push(await connectOperator(ctx.url!, operator.token));
  const client = `end-${operator.id}`;
  await apiWebhook(ctx, channel.id, clientMessage(client, 'hello'));
  for (const app of apps) await app.waitForEvent('chatSessionAdded');
  const session = await sessionOf(ctx, channel.id);
  assert.equal(session.operatorId, operator.id);
  return { operator, channel, apps, client, session };
}

describeEachDatabase(
  'live connections end with their token',
  (ctx) => {
    it('closes every connection of a token at logout, and nothing reaches them after', async () => {
      const { operator, channel, apps, client, session } = await operatorAtWork(ctx(), 2);
      const watcher = await watch(ctx(), session.id);
      try {
        const res = await ctx().request('POST', '/api/v1/auth/logout', { token: operator.token });
        assert.equal(res.status, 204);
        for (const app of apps)
          await waitFor(() => app.disconnects.find((d) => d.code === 4503), 5000, 'the logout disconnect');
        const before = apps.map((a) => a.events.length);
        await apiWebhook(ctx(), channel.id, clientMessage(client, 'anyone there?'));
        // The event is published (the supervisor sees it), yet the logged-out tabs get nothing.
        await waitFor(
          () =>
            watcher.seen.find(
              (e) => e.event === 'chatMessageCreated' && e.data.message.text === 'anyone there?',
            ),
          5000,
          'the message, seen by the supervisor',
        );
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(
          apps.map((a) => a.events.length),
          before,
        );
        for (const app of apps)
          assert.equal(app.centrifuge.state, 'disconnected', 'the SDK does not reconnect');
        await assert.rejects(connectOperator(ctx().url!, operator.token), /disconnected 3500/);
      } finally {
        for (const app of apps) app.close();
        watcher.app.close();
      }
    });

    it('closes a deleted user’s connections and puts their sessions back in the queue', async () => {
      const { operator, apps, session } = await operatorAtWork(ctx());
      const app = apps[0]!;
      try {
        const res = await ctx().request('DELETE', `/api/v1/users/${operator.id}`);
        assert.equal(res.status, 204);
        await waitFor(() => app.disconnects.find((d) => d.code === 4504), 5000, 'the deletion disconnect');
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(app.centrifuge.state, 'disconnected');
        const after = await waitFor(async () => {
          const s = (await ctx().request('GET', `/api/v1/sessions/${session.id}`)).body;
          return s.state === 'Waiting' ? s : null;
        });
        assert.equal(after.operatorId, null);
      } finally {
        app.close();
      }
    });
  },
  { background: true, listen: true },
);
