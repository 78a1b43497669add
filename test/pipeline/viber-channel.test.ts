import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { parseViberJson } from '../../src/providers/viber/viber-json.ts';
import { FakeViberApi } from '../fakes/viber-api.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';

const messagesOf = (ctx: TestContext, channelId: string) =>
  queryRows<{ text: string | null; external_id: string; status: string; direction: string }>(
    ctx.db,
    sql`SELECT text, external_id, status, direction FROM messages WHERE channel_id = ${channelId} ORDER BY seq`,
  );

it('reads message_token exactly beyond 2^53 (never through JSON numbers)', () => {
  const parsed = parseViberJson(
    '{"event":"delivered","message_token":4912661846655238145,"user_id":"01234567890A=","text":"{\\"message_token\\":1}"}',
  ) as any;
  assert.equal(parsed.message_token, '4912661846655238145');
  assert.equal(parsed.text, '{"message_token":1}');
});

describeEachDatabase(
  'viber bot channel',
  (ctx) => {
    let fake: FakeViberApi;
    before(async () => {
      fake = await FakeViberApi.start();
      fake.deliver = async (url, body, headers) => {
        const res = await ctx().app.inject({
          method: 'POST',
          url: new URL(url).pathname,
          headers,
          payload: body,
        });
        return { status: res.statusCode, body: res.body };
      };
    });
    after(() => fake.close());

    async function release() {
      const live = await ctx().request('POST', '/api/v1/channels/search', {
        body: { where: { field: 'type', op: 'eq', value: 'viberbot' } },
      });
      for (const c of live.body.items)
        if (c.state !== 'disconnected' || !c.deletedAt)
          await ctx().request('DELETE', `/api/v1/channels/${c.id}`);
    }

    async function channel() {
      await release();
      const line = await createLine(ctx());
      const c = await createChannel(ctx(), line.id, 'viberbot', {
        settings: { authToken: fake.authToken, senderName: 'Omniline', apiRoot: fake.root },
      });
      return { ...c, url: `http://omniline.test/webhooks/viber/${c.id}` };
    }

    it("registers: the token checked, set_webhook passes Viber's signed check call, the token hidden", async () => {
      const c = await channel();
      assert.equal(fake.webhookUrl, c.url);
      const set = fake.to('/pa/set_webhook').at(-1)!;
      assert.equal(set.headers['x-viber-auth-token'], fake.authToken);
      assert.deepEqual(JSON.parse(set.body.toString()).event_types, [
        'delivered',
        'seen',
        'failed',
        'subscribed',
        'unsubscribed',
        'conversation_started',
      ]);
      const view = (await ctx().request('GET', `/api/v1/channels/${c.id}`)).body;
      assert.equal(view.settings.authToken, '********');
      assert.equal(view.source, 'pa:75346594275468546724');
    });

    it('stores a message once under its exact 64-bit token; a replay answers 200 and stores nothing', async () => {
      const c = await channel();
      fake.users.set('01234567890A=', {
        id: '01234567890A=',
        name: 'John McClane',
        avatar: `${fake.root}/a.jpg`,
      });
      const raw = fake.message(
        '01234567890A=',
        { type: 'text', text: 'a message to the service' },
        '4912661846655238145',
      );
      assert.equal((await fake.callback(c.url, raw)).status, 200);
      assert.equal((await fake.callback(c.url, raw)).status, 200);
      const rows = await messagesOf(ctx(), c.id);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.external_id, '4912661846655238145');
      const [client] = await queryRows<{ first_name: string }>(
        ctx().db,
        sql`SELECT first_name FROM clients WHERE channel_id = ${c.id}`,
      );
      assert.equal(client!.first_name, 'John');
    });

    it('refuses a wrong or missing signature with 401 and stores nothing', async () => {
      const c = await channel();
      const raw = fake.message('forger=', { type: 'text', text: 'x' });
      assert.equal((await fake.callback(c.url, raw, { signature: 'ab'.repeat(32) })).status, 401);
      const res = await ctx().app.inject({
        method: 'POST',
        url: new URL(c.url).pathname,
        headers: { 'content-type': 'application/json' },
        payload: raw,
      });
      assert.equal(res.statusCode, 401);
      assert.equal((await messagesOf(ctx(), c.id)).length, 0);
    });

    it('sends text with send_message; delivered and seen callbacks move it on; status 12 is retried', async () => {
      const c = await channel();
      await fake.callback(c.url, fake.message('user-send=', { type: 'text', text: 'hi' }));
      const session = (
        await ctx().request('POST', '/api/v1/sessions/search', {
          body: { where: { field: 'channelId', op: 'eq', value: c.id } },
        })
      ).body.items[0];
      fake.failNext(12, 'tooManyRequests');
      const before = fake.sent.length;
      await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: 'hello from us' },
      });
      await waitFor(() => fake.sent.length > before, 10_000);
      const body = fake.sent.at(-1)!;
      assert.equal(body.receiver, 'user-send=');
      assert.equal(body.type, 'text');
      assert.equal(body.text, 'hello from us');
      assert.deepEqual(body.sender, { name: 'Omniline' });
      const out = await waitFor(
        async () => (await messagesOf(ctx(), c.id)).find((m) => m.direction === 'outgoing' && m.external_id),
        5000,
      );
      assert.ok(BigInt(out.external_id) > BigInt(Number.MAX_SAFE_INTEGER));
      const receipt = (event: string) =>
        `{"event":"${event}","timestamp":1457764197627,"chat_hostname":"SN-376_","message_token":${out.external_id},"user_id":"user-send="}`;
      await fake.callback(c.url, receipt('delivered'));
      assert.equal(
        (await messagesOf(ctx(), c.id)).find((m) => m.external_id === out.external_id)!.status,
        'delivered',
      );
      await fake.callback(c.url, receipt('seen'));
      assert.equal(
        (await messagesOf(ctx(), c.id)).find((m) => m.external_id === out.external_id)!.status,
        'read',
      );
    });

    it('an unsubscribed user is unreachable and their session closes; writing again makes them reachable', async () => {
      const c = await channel();
      await fake.callback(c.url, fake.message('leaver=', { type: 'text', text: 'bye' }));
      await fake.callback(c.url, {
        event: 'unsubscribed',
        timestamp: 1457764197627,
        chat_hostname: 'SN-376_',
        user_id: 'leaver=',
        message_token: '4912661846655238145',
      });
      const [client] = await queryRows<{ unreachable: boolean; id: string }>(
        ctx().db,
        sql`SELECT id, unreachable FROM clients WHERE channel_id = ${c.id}`,
      );
      assert.equal(client!.unreachable, true);
      const [open] = await queryRows<{ n: number }>(
        ctx().db,
        sql`SELECT count(*)::int AS n FROM sessions WHERE channel_id = ${c.id} AND state IN ('Waiting','AssignedToOperator')`,
      );
      assert.equal(open!.n, 0);
      await fake.callback(c.url, fake.message('leaver=', { type: 'text', text: 'back' }));
      const [again] = await queryRows<{ unreachable: boolean }>(
        ctx().db,
        sql`SELECT unreachable FROM clients WHERE id = ${client!.id}`,
      );
      assert.equal(again!.unreachable, false);
    });

    it('an invalid token (status 2) puts the channel in error; reconnect registers it again', async () => {
      const c = await channel();
      await fake.callback(c.url, fake.message('user-err=', { type: 'text', text: 'hi' }));
      const session = (
        await ctx().request('POST', '/api/v1/sessions/search', {
          body: { where: { field: 'channelId', op: 'eq', value: c.id } },
        })
      ).body.items[0];
      fake.failNext(2, 'invalidAuthToken');
      await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, { body: { text: 'x' } });
      const view = await waitFor(async () => {
        const v = (await ctx().request('GET', `/api/v1/channels/${c.id}`)).body;
        return v.state === 'error' ? v : null;
      }, 5000);
      assert.match(view.stateReason, /INVALID_CREDENTIALS/);
      const re = await ctx().request('POST', `/api/v1/channels/${c.id}/reconnect`);
      assert.equal(re.status, 200, JSON.stringify(re.body));
      assert.equal(re.body.state, 'active');
    });
  },
  { background: true, fetchAllowPrivate: ['127.0.0.1'] },
);
