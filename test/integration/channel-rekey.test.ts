/**
 * Re-keying a channel: after `PATCH /channels/:id` with a new secret, the next webhook is checked
 * against the new secret — on the node that took the change and, through the broker, on every other.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestContext } from '../helpers/app.ts';
import { databaseKinds } from '../helpers/db.ts';
import { createChannel, createLine } from '../helpers/factories.ts';
import { API_SECRET, apiWebhook, clientMessage } from '../helpers/webhooks.ts';

const redisUrl = process.env.REDIS_URL;
const NEW_SECRET = 'a-new-secret-after-rekeying-0123456789';

async function rekey(ctx: TestContext, channelId: string): Promise<void> {
  const res = await ctx.request('PATCH', `/api/v1/channels/${channelId}`, {
    body: { settings: { secret: NEW_SECRET } },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

for (const kind of databaseKinds()) {
  describe(`re-keying a channel [${kind}]`, () => {
    let a: TestContext;
    let b: TestContext | undefined;
    before(async () => {
      const redisPrefix = `omniline-test-${randomUUID()}:`;
      a = await startTestApp(kind, { redisUrl, redisPrefix });
      if (redisUrl) b = await startTestApp(kind, { redisUrl, redisPrefix, database: a.database });
    });
    after(async () => {
      await b?.close();
      await a?.close();
    });

    it('refuses the old secret and takes the new one from the next webhook on', async () => {
      const line = await createLine(a);
      const channel = await createChannel(a, line.id, 'api');
      // The row is cached by this webhook.
      assert.equal((await apiWebhook(a, channel.id, clientMessage('rekey-1'))).status, 200);
      await rekey(a, channel.id);
      const old = await apiWebhook(a, channel.id, clientMessage('rekey-1', 'old key'), API_SECRET);
      assert.equal(old.status, 401);
      assert.equal(old.body.error.code, 'INVALID_SIGNATURE');
      const fresh = await apiWebhook(a, channel.id, clientMessage('rekey-1', 'new key'), NEW_SECRET);
      assert.equal(fresh.status, 200);
    });

    it('applies the new secret on another node at once', {
      skip: redisUrl ? false : 'needs REDIS_URL',
    }, async () => {
      const line = await createLine(a);
      const channel = await createChannel(a, line.id, 'api');
      const other = b!;
      // Node B caches the row with the old secret.
      assert.equal((await apiWebhook(other, channel.id, clientMessage('rekey-2'))).status, 200);
      await rekey(a, channel.id);
      // The change reaches B through Redis; allow it the time of a round trip, far below the cache's TTL.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const old = await apiWebhook(other, channel.id, clientMessage('rekey-2', 'old key'), API_SECRET);
      assert.equal(old.status, 401);
      const fresh = await apiWebhook(other, channel.id, clientMessage('rekey-2', 'new key'), NEW_SECRET);
      assert.equal(fresh.status, 200);
    });
  });
}
