import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { SecretBox } from '../../src/lib/secret-box.ts';
import { createPlatform } from '../../src/platform.ts';
import { FakeTelegramApi } from '../fakes/telegram-api.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, createUser } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';

async function messagesOf(ctx: TestContext, channelId: string) {
  return queryRows<{
    text: string | null;
    external_id: string;
    session_id: string;
    type: string;
    attachments: any;
  }>(
    ctx.db,
    sql`SELECT text, external_id, session_id, type, attachments FROM messages WHERE channel_id = ${channelId} ORDER BY seq`,
  );
}

async function sessionOf(ctx: TestContext, channelId: string) {
  const res = await ctx.request('POST', '/api/v1/sessions/search', {
    body: { where: { field: 'channelId', op: 'eq', value: channelId } },
  });
  return res.body.items[0];
}

describeEachDatabase(
  'telegram bot channel',
  (ctx) => {
    let fake: FakeTelegramApi;
    before(async () => {
      fake = await FakeTelegramApi.start({ webhookDelivery: 'manual', botId: 777 });
    });
    after(() => fake.close());

    /** One bot can back one live channel (its source is unique): delete the previous test's. */
    async function releaseBot() {
      const live = await ctx().request('POST', '/api/v1/channels/search', {
        body: {
          where: {
            and: [
              { field: 'type', op: 'eq', value: 'telegramBot' },
              { field: 'source', op: 'eq', value: '777' },
            ],
          },
        },
      });
      for (const c of live.body.items)
        assert.equal((await ctx().request('DELETE', `/api/v1/channels/${c.id}`)).status, 204);
    }

    async function pollingChannel() {
      await releaseBot();
      const operator = await createUser(ctx(), 'operator');
      const line = await createLine(ctx(), { operatorIds: [operator.id] });
      const channel = await createChannel(ctx(), line.id, 'telegramBot', {
        settings: { token: fake.token, mode: 'polling', apiRoot: fake.apiRoot },
      });
      return { operator, line, channel };
    }

    it('registers a polling bot: getMe gives the source, the webhook is removed, the token stays hidden', async () => {
      const { channel } = await pollingChannel();
      assert.equal((channel as any).source, '777');
      assert.deepEqual((channel as any).settings, {
        token: '********',
        mode: 'polling',
        apiRoot: fake.apiRoot,
      });
      assert.ok(fake.calls('getMe').length > 0);
      assert.ok(fake.calls('deleteWebhook').length > 0);
    });

    it('refuses a channel whose token Telegram rejects (422) and writes nothing', async () => {
      const line = await createLine(ctx());
      const res = await ctx().request('POST', '/api/v1/channels', {
        body: {
          lineId: line.id,
          name: 'bad',
          type: 'telegramBot',
          settings: { token: '1:wrong', apiRoot: fake.apiRoot },
        },
      });
      assert.equal(res.status, 422);
      assert.equal(res.body.error.code, 'CHANNEL_REGISTRATION_FAILED');
      assert.equal(res.body.error.details.providerCode, 'INVALID_CREDENTIALS');
      const found = await ctx().request('POST', '/api/v1/channels/search', {
        body: { where: { field: 'name', op: 'eq', value: 'bad' } },
      });
      assert.equal(found.body.total, 0);
    });

    it('reads messages by long polling, stores each once, and advances the offset', async () => {
      const { channel } = await pollingChannel();
      fake.setChat({ id: 5001, first_name: 'Ann', last_name: 'Lee', username: 'ann' });
      fake.pushMessage({ from: { id: 5001, first_name: 'Ann', username: 'ann' }, text: 'hi there' });
      fake.pushMessage({ from: { id: 5001, first_name: 'Ann', username: 'ann' }, text: 'anyone?' });
      await waitFor(
        async () => (await messagesOf(ctx(), channel.id)).length === 2,
        10_000,
        'two polled messages',
      );
      const stored = await messagesOf(ctx(), channel.id);
      assert.deepEqual(
        stored.map((m) => m.text),
        ['hi there', 'anyone?'],
      );
      assert.equal(new Set(stored.map((m) => m.session_id)).size, 1);
      await waitFor(() => fake.pendingUpdates().length === 0, 10_000, 'updates confirmed by the next offset');
      const [cursor] = await queryRows<{ cursor: string }>(
        ctx().db,
        sql`SELECT cursor FROM channel_cursors WHERE channel_id = ${channel.id}`,
      );
      assert.ok(Number(cursor!.cursor) > 0);
      const client = (
        await ctx().request('GET', `/api/v1/clients/${(await sessionOf(ctx(), channel.id)).clientIds[0]}`)
      ).body;
      assert.equal(client.username, 'ann');
      assert.equal(client.lastName, 'Lee', 'the profile from getChat fills what the message lacks');
    });

    it('downloads a photo through getFile into the file store', async () => {
      const { channel } = await pollingChannel();
      const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);
      const file = fake.addFile({ data: bytes, filePath: 'photos/file_9.png' });
      fake.pushMessage({
        from: { id: 5002, first_name: 'Bo' },
        photo: [
          {
            file_id: file.file_id,
            file_unique_id: file.file_unique_id,
            width: 90,
            height: 90,
            file_size: bytes.length,
          },
        ],
        caption: 'my receipt',
      });
      const [stored] = await waitFor(
        async () => {
          const rows = await messagesOf(ctx(), channel.id);
          return rows[0]?.attachments[0]?.fileId ? rows : null;
        },
        10_000,
        'the photo downloaded',
      );
      assert.equal(stored!.type, 'image');
      assert.equal(stored!.text, 'my receipt');
      const res = await ctx().app.inject({
        method: 'GET',
        url: `/api/v1/files/${stored!.attachments[0].fileId}`,
        headers: { authorization: `Bearer ${ctx().adminToken}` },
      });
      assert.deepEqual(res.rawPayload, bytes);
    });

    it('sends an operator reply with sendMessage to the chat', async () => {
      const { channel, operator } = await pollingChannel();
      fake.pushMessage({ from: { id: 5003, first_name: 'Cy' }, text: 'help' });
      await waitFor(async () => (await messagesOf(ctx(), channel.id)).length === 1, 10_000, 'the question');
      const session = await sessionOf(ctx(), channel.id);
      await ctx().request('POST', `/api/v1/sessions/${session.id}/assign`, {
        body: { operatorId: operator.id },
      });
      const before = fake.calls('sendMessage').length;
      const sent = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        token: operator.token,
        body: { text: 'On it!' },
      });
      assert.equal(sent.status, 201);
      const call = await fake.waitForCall('sendMessage', before + 1, 5000);
      assert.deepEqual(call.params, { chat_id: 5003, text: 'On it!' });
      const done = await waitFor(async () => {
        const m = (await ctx().request('GET', `/api/v1/sessions/${session.id}/last-message`)).body;
        return m.status === 'sent' ? m : null;
      });
      assert.match(done.externalId, /^5003:\d+$/);
      const edited = await ctx().request('PATCH', `/api/v1/messages/${sent.body.id}`, {
        token: operator.token,
        body: { text: 'On it, one minute!' },
      });
      assert.equal(edited.status, 200);
      assert.ok(edited.body.editedAt);
      const edit = await fake.waitForCall('editMessageText', 1, 5000);
      assert.deepEqual(edit.params, {
        chat_id: 5003,
        message_id: Number(done.externalId.split(':')[1]),
        text: 'On it, one minute!',
      });
    });

    it('marks a client who blocked the bot unreachable and fails the message, without retrying', async () => {
      const { channel } = await pollingChannel();
      fake.pushMessage({ from: { id: 5004, first_name: 'Di' }, text: 'bye' });
      await waitFor(async () => (await messagesOf(ctx(), channel.id)).length === 1, 10_000, 'the message');
      const session = await sessionOf(ctx(), channel.id);
      fake.failNext('sendMessage', { status: 403 });
      const before = fake.calls('sendMessage').length;
      await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: 'still there?' },
      });
      const failed = await waitFor(async () => {
        const m = (await ctx().request('GET', `/api/v1/sessions/${session.id}/last-message`)).body;
        return m.status === 'failed' ? m : null;
      });
      assert.equal(failed.error.code, 'CLIENT_UNREACHABLE');
      assert.equal(fake.calls('sendMessage').length, before + 1);
      const again = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: 'hello?' },
      });
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'CLIENT_UNREACHABLE');
    });

    it('closes the session as the client when the user blocks the bot (my_chat_member kicked)', async () => {
      const { channel } = await pollingChannel();
      fake.pushMessage({ from: { id: 5005, first_name: 'Eve' }, text: 'thanks, bye' });
      await waitFor(async () => (await messagesOf(ctx(), channel.id)).length === 1, 10_000, 'the message');
      const session = await sessionOf(ctx(), channel.id);
      const bot = { id: 777, is_bot: true, first_name: 'Bot', username: 'test_bot' };
      fake.pushUpdate({
        my_chat_member: {
          chat: { id: 5005, first_name: 'Eve', type: 'private' },
          from: { id: 5005, is_bot: false, first_name: 'Eve' },
          date: Math.floor(Date.now() / 1000),
          old_chat_member: { user: bot, status: 'member' },
          new_chat_member: { user: bot, status: 'kicked', until_date: 0 },
        },
      });
      const closed = await waitFor(async () => {
        const s = (await ctx().request('GET', `/api/v1/sessions/${session.id}`)).body;
        return s.state === 'Closed' ? s : null;
      }, 10_000);
      assert.deepEqual(closed.closedBy, { type: 'client', id: session.clientIds[0] });
      const history = (await ctx().request('GET', `/api/v1/sessions/${session.id}/history`)).body.items;
      assert.equal(history.at(-1).details.reason, 'blocked the bot');
    });

    it('lets exactly one of two nodes poll a channel', async () => {
      const { channel } = await pollingChannel();
      let otherPolls = 0;
      const other = createPlatform({
        db: ctx().db,
        secrets: new SecretBox('test-secret-key-0123456789abcdef0123'),
        filesDir: '/tmp/omniline-other-node',
        fetch: (input, init) => {
          if (String(input).includes('/getUpdates')) otherPolls++;
          return fetch(input, init);
        },
        pollLeaseMs: 5000,
      });
      await waitFor(
        async () => {
          const rows = await queryRows(
            ctx().db,
            sql`SELECT holder FROM leases WHERE name = ${`poll:${channel.id}`}`,
          );
          return rows.length === 1;
        },
        10_000,
        'the first node to take the lease',
      );
      other.start();
      await other.pollers.rescan();
      fake.pushMessage({ from: { id: 5005, first_name: 'Ed' }, text: 'one' });
      await waitFor(async () => (await messagesOf(ctx(), channel.id)).length === 1, 10_000, 'the message');
      await new Promise((r) => setTimeout(r, 300));
      await other.stop();
      assert.equal(otherPolls, 0, 'the second node never polled while the first held the lease');
      const [lease] = await queryRows<{ holder: string }>(
        ctx().db,
        sql`SELECT holder FROM leases WHERE name = ${`poll:${channel.id}`}`,
      );
      assert.equal(lease!.holder, ctx().platform.worker.holder);
    });

    it('takes webhook updates only with the secret token set at registration', async () => {
      await releaseBot();
      const line = await createLine(ctx());
      const channel = await createChannel(ctx(), line.id, 'telegramBot', {
        settings: { token: fake.token, mode: 'webhook', apiRoot: fake.apiRoot },
      });
      const hook = fake.webhook();
      assert.equal(hook?.url, `http://omniline.test/webhooks/telegramBot/${channel.id}`);
      assert.ok(hook?.secretToken && hook.secretToken.length >= 32);
      fake.pushMessage({ from: { id: 5006, first_name: 'Fay' }, text: 'via webhook' });
      const update = fake.pendingUpdates().at(-1)!;
      const post = (secret: string | undefined) =>
        ctx().app.inject({
          method: 'POST',
          url: `/webhooks/telegramBot/${channel.id}`,
          headers: {
            'content-type': 'application/json',
            ...(secret && { 'x-telegram-bot-api-secret-token': secret }),
          },
          payload: JSON.stringify(update),
        });
      assert.equal((await post('wrong-secret')).statusCode, 401);
      assert.equal((await post(undefined)).statusCode, 401);
      assert.equal((await messagesOf(ctx(), channel.id)).length, 0);
      const ok = await post(hook.secretToken);
      assert.equal(ok.statusCode, 200);
      assert.equal((await post(hook.secretToken)).json().duplicates, 1, 'Telegram re-delivering is harmless');
      assert.deepEqual(
        (await messagesOf(ctx(), channel.id)).map((m) => m.text),
        ['via webhook'],
      );
      await ctx().request('POST', `/api/v1/channels/${channel.id}/disconnect`);
      assert.equal(fake.webhook(), null, 'disconnecting deletes the webhook');
      const refused = await post(hook.secretToken);
      assert.equal(refused.statusCode, 409);
    });
  },
  { background: true },
);
