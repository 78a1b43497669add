/**
 * A channel that cannot deliver refuses a send at once (409 CHANNEL_CANNOT_DELIVER, naming why)
 * instead of storing it `pending` to fail later: the api channel without a callbackUrl.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { apiProvider } from '../../src/providers/api/api.provider.ts';
import { telegramBotProvider } from '../../src/providers/telegram/telegram.provider.ts';
import { ApiCallbackServer } from '../fakes/api-callback.ts';
import { describeEachDatabase } from '../helpers/app.ts';
import { createChannel, createLine } from '../helpers/factories.ts';
import { API_SECRET, apiWebhook, clientMessage } from '../helpers/webhooks.ts';

it('says why a provider cannot deliver from its settings, or null when it can', () => {
  assert.match(apiProvider.canSend!({ secret: API_SECRET }) ?? '', /callbackUrl/);
  assert.equal(apiProvider.canSend!({ secret: API_SECRET, callbackUrl: 'https://x.example/cb' }), null);
  assert.match(telegramBotProvider.canSend!({}) ?? '', /token/);
  assert.equal(telegramBotProvider.canSend!({ token: '1:abc', mode: 'polling' }), null);
});

describeEachDatabase('channels that cannot deliver', (ctx) => {
  let callback: ApiCallbackServer;
  before(async () => {
    callback = await ApiCallbackServer.start();
  });
  after(() => callback.close());

  it('refuses a reply on an api channel without a callbackUrl at once, storing nothing; sends once one is set', async () => {
    const line = await createLine(ctx());
    const channel = await createChannel(ctx(), line.id, 'api', { settings: { secret: API_SECRET } });
    assert.equal((await apiWebhook(ctx(), channel.id, clientMessage('no-callback'))).status, 200);
    const [session] = (
      await ctx().request('POST', '/api/v1/sessions/search', {
        body: { where: { field: 'channelId', op: 'eq', value: channel.id } },
      })
    ).body.items;
    const jobs = async () =>
      (await queryRows<{ n: number }>(ctx().db, sql`SELECT count(*)::int AS n FROM jobs`))[0]!.n;
    const jobsBefore = await jobs();
    const refused = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
      body: { text: 'anyone there?' },
    });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'CHANNEL_CANNOT_DELIVER');
    assert.match(refused.body.error.message, /callbackUrl/);
    assert.equal(refused.body.error.details.channelId, channel.id);
    assert.match(refused.body.error.details.reason, /callbackUrl/);
    const messages = await ctx().request('GET', `/api/v1/sessions/${session.id}/messages`);
    assert.equal(messages.body.total, 1, 'only the client’s message');
    assert.equal(await jobs(), jobsBefore, 'no send queued');

    const patched = await ctx().request('PATCH', `/api/v1/channels/${channel.id}`, {
      body: { settings: { secret: API_SECRET, callbackUrl: `${callback.url}/out` } },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const sent = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
      body: { text: 'here I am' },
    });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    await ctx().platform.worker.drain();
    assert.equal(callback.requests.find((r) => r.body?.messageId === sent.body.id)?.body.text, 'here I am');
    const stored = await ctx().request('GET', `/api/v1/sessions/${session.id}/last-message`);
    assert.equal(stored.body.status, 'sent');
  });
});
