import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { twilioSignature } from '../../src/providers/twilio/twilio-signature.ts';
import { FakeTwilioApi } from '../fakes/twilio-api.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';

const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
);

function injectDeliver(ctx: () => TestContext) {
  return async (url: string, body: string, headers: Record<string, string>) => {
    const u = new URL(url);
    const res = await ctx().app.inject({
      method: 'POST',
      url: u.pathname + u.search,
      headers,
      payload: body,
    });
    return { status: res.statusCode, body: res.body };
  };
}

const messagesOf = (ctx: TestContext, channelId: string) =>
  queryRows<{
    text: string | null;
    external_id: string;
    status: string;
    attachments: any;
    direction: string;
  }>(
    ctx.db,
    sql`SELECT text, external_id, status, attachments, direction FROM messages WHERE channel_id = ${channelId} ORDER BY seq`,
  );

it('signs like Twilio: the documentation test vector', () => {
  const params = {
    CallSid: 'CA1234567890ABCDE',
    Caller: '+14158675310',
    Digits: '1234',
    From: '+14158675310',
    To: '+18005551212',
  };
  assert.equal(
    twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', Object.entries(params)),
    'GvWf1cFY/Q7PnoempGyD5oXAezc=',
  );
});

describeEachDatabase(
  'twilio whatsapp channel',
  (ctx) => {
    let fake: FakeTwilioApi;
    before(async () => {
      fake = await FakeTwilioApi.start();
      fake.deliver = injectDeliver(ctx);
    });
    after(() => fake.close());

    async function channel(from = `whatsapp:+1415523${String(Math.floor(Math.random() * 9000) + 1000)}`) {
      const line = await createLine(ctx());
      const created = await createChannel(ctx(), line.id, 'whatsapp', {
        settings: {
          provider: 'twilio',
          accountSid: fake.accountSid,
          authToken: fake.authToken,
          from,
          apiRoot: fake.root,
        },
      });
      return { ...created, url: `http://omniline.test/webhooks/twilio/${created.id}` };
    }

    it('registers by looking the account up with Basic auth; the auth token is never shown', async () => {
      const before = fake.to(`${fake.base}.json`).length;
      const c = await channel('whatsapp:+1 415 523 8886');
      const calls = fake.to(`${fake.base}.json`);
      assert.equal(calls.length, before + 1);
      assert.equal(
        calls.at(-1)!.headers.authorization,
        `Basic ${Buffer.from(`${fake.accountSid}:${fake.authToken}`).toString('base64')}`,
      );
      const view = (await ctx().request('GET', `/api/v1/channels/${c.id}`)).body;
      assert.equal(view.settings.authToken, '********');
      assert.equal(view.settings.from, 'whatsapp:+14155238886');
      assert.equal(view.settings.provider, 'twilio');
      assert.equal(view.settings.webhookUrl, c.url);
      assert.equal(view.source, 'whatsapp:+14155238886');
    });

    it('refuses a channel whose credentials Twilio rejects (422) and stores nothing', async () => {
      const line = await createLine(ctx());
      const res = await ctx().request('POST', '/api/v1/channels', {
        body: {
          lineId: line.id,
          name: 'bad',
          type: 'whatsapp',
          settings: {
            provider: 'twilio',
            accountSid: fake.accountSid,
            authToken: 'c3'.repeat(16),
            from: '+14155550100',
            apiRoot: fake.root,
          },
        },
      });
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'CHANNEL_REGISTRATION_FAILED');
      assert.equal(res.body.error.details.providerCode, 'INVALID_CREDENTIALS');
    });

    it('stores a signed message once (a replay answers 200 and stores nothing), with the profile name', async () => {
      const c = await channel();
      const params = fake.inbound('whatsapp:+16505551234', 'Does it come in another color?');
      const first = await fake.webhook(c.url, params);
      assert.equal(first.status, 200);
      assert.match(first.body, /<Response><\/Response>/);
      const replay = await fake.webhook(c.url, params);
      assert.equal(replay.status, 200);
      const rows = await messagesOf(ctx(), c.id);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.text, 'Does it come in another color?');
      assert.equal(rows[0]!.external_id, params.MessageSid);
      const [client] = await queryRows<{ external_id: string; first_name: string; phone: string }>(
        ctx().db,
        sql`SELECT external_id, first_name, phone FROM clients WHERE channel_id = ${c.id}`,
      );
      assert.deepEqual(client, { external_id: '+16505551234', first_name: 'Sheena', phone: '+16505551234' });
    });

    it('refuses a wrong or missing signature with 401 and stores nothing', async () => {
      const c = await channel();
      const params = fake.inbound('whatsapp:+16505550001', 'forged');
      const wrong = await fake.webhook(c.url, params, {
        signature: twilioSignature('x'.repeat(32), c.url, Object.entries(params)),
      });
      assert.equal(wrong.status, 401);
      assert.equal(JSON.parse(wrong.body).error.code, 'INVALID_SIGNATURE');
      const res = await ctx().app.inject({
        method: 'POST',
        url: new URL(c.url).pathname,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(params).toString(),
      });
      assert.equal(res.statusCode, 401);
      // Signed for another URL (a proxy changed it): refused too.
      const elsewhere = await fake.webhook(c.url, params, {
        signature: twilioSignature(fake.authToken, 'https://other.example/hook', Object.entries(params)),
      });
      assert.equal(elsewhere.status, 401);
      assert.equal((await messagesOf(ctx(), c.id)).length, 0);
    });

    it('verifies against publicBaseUrl when a proxy stands in front', async () => {
      const c = await channel();
      const patched = await ctx().request('PATCH', `/api/v1/channels/${c.id}`, {
        body: { settings: { publicBaseUrl: 'https://chat.example.com/omni' } },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const params = fake.inbound('whatsapp:+16505550002', 'via proxy');
      const signedUrl = `https://chat.example.com/omni/webhooks/twilio/${c.id}`;
      const signature = twilioSignature(fake.authToken, signedUrl, Object.entries(params));
      const res = await fake.webhook(c.url, params, { signature });
      assert.equal(res.status, 200, res.body);
      assert.equal((await messagesOf(ctx(), c.id)).length, 1);
    });

    it('is one client across whatsapp:+1…, +1 (…) and 1… spellings', async () => {
      const c = await channel();
      await fake.webhook(c.url, fake.inbound('whatsapp:+16505550003', 'one', { WaId: '' }));
      await fake.webhook(c.url, fake.inbound('+1 (650) 555-0003', 'two', { WaId: '' }));
      await fake.webhook(c.url, fake.inbound('16505550003', 'three', { WaId: '' }));
      const clients = await queryRows<{ n: number }>(
        ctx().db,
        sql`SELECT count(*)::int AS n FROM clients WHERE channel_id = ${c.id}`,
      );
      assert.equal(clients[0]!.n, 1);
      const sessions = await queryRows<{ n: number }>(
        ctx().db,
        sql`SELECT count(*)::int AS n FROM sessions WHERE channel_id = ${c.id}`,
      );
      assert.equal(sessions[0]!.n, 1);
    });

    it('downloads MediaUrl0 with Basic auth into the file store', async () => {
      const c = await channel();
      const url = fake.addMedia('image/png', PNG);
      const params = fake.inbound('whatsapp:+16505550004', '', {
        NumMedia: '1',
        MediaUrl0: url,
        MediaContentType0: 'image/png',
      });
      assert.equal((await fake.webhook(c.url, params)).status, 200);
      const stored = await waitFor(async () => {
        const [m] = await messagesOf(ctx(), c.id);
        return m?.attachments[0]?.fileId ? m : null;
      }, 5000);
      assert.equal(stored.attachments[0].mimeType, 'image/png');
      const path = new URL(url).pathname;
      assert.ok(fake.to(path).every((r) => r.headers.authorization?.startsWith('Basic ')));
      const file = await ctx().request('GET', `/api/v1/files/${stored.attachments[0].fileId}`);
      assert.equal(file.status, 200);
    });

    async function openedSession(c: { id: string; url: string }, from: string) {
      await fake.webhook(c.url, fake.inbound(from, 'hello'));
      const res = await ctx().request('POST', '/api/v1/sessions/search', {
        body: { where: { field: 'channelId', op: 'eq', value: c.id } },
      });
      return res.body.items[0];
    }

    it('sends a reply to Messages.json with Basic auth and StatusCallback; status callbacks move it to delivered and read', async () => {
      const c = await channel('whatsapp:+14155550111');
      const session = await openedSession(c, 'whatsapp:+16505550005');
      const before = fake.sent.length;
      const sent = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: 'Yes, in blue' },
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      await waitFor(() => fake.sent.length > before, 5000);
      const form = fake.sent.at(-1)!;
      assert.deepEqual(Object.fromEntries(form), {
        To: 'whatsapp:+16505550005',
        From: 'whatsapp:+14155550111',
        StatusCallback: c.url,
        Body: 'Yes, in blue',
      });
      const out = await waitFor(
        async () => (await messagesOf(ctx(), c.id)).find((m) => m.direction === 'outgoing' && m.external_id),
        5000,
      );
      const status = (MessageStatus: string) =>
        fake.webhook(c.url, {
          MessageSid: out.external_id,
          MessageStatus,
          AccountSid: fake.accountSid,
          To: 'whatsapp:+16505550005',
          From: 'whatsapp:+14155550111',
          ApiVersion: '2010-04-01',
        });
      assert.equal((await status('delivered')).status, 200);
      assert.equal(
        (await messagesOf(ctx(), c.id)).find((m) => m.external_id === out.external_id)!.status,
        'delivered',
      );
      await status('read');
      assert.equal(
        (await messagesOf(ctx(), c.id)).find((m) => m.external_id === out.external_id)!.status,
        'read',
      );
    });

    it('retries a send Twilio rate-limits (429 / 20429) until it goes through', async () => {
      const c = await channel();
      const session = await openedSession(c, 'whatsapp:+16505550006');
      fake.failNext(429, 20429, 'Too Many Requests', 2);
      const before = fake.sent.length;
      await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: 'after the limit' },
      });
      await waitFor(() => fake.sent.length > before, 10_000);
      const out = await waitFor(
        async () =>
          (await messagesOf(ctx(), c.id)).find((m) => m.direction === 'outgoing' && m.status === 'sent'),
        5000,
      );
      assert.equal(out.text, 'after the limit');
    });

    it('puts the channel in error with a reason when Twilio refuses its credentials', async () => {
      const c = await channel();
      const session = await openedSession(c, 'whatsapp:+16505550007');
      fake.failNext(401, 20003, 'Authenticate');
      await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, { body: { text: 'x' } });
      const view = await waitFor(async () => {
        const v = (await ctx().request('GET', `/api/v1/channels/${c.id}`)).body;
        return v.state === 'error' ? v : null;
      }, 5000);
      assert.match(view.stateReason, /INVALID_CREDENTIALS/);
      const events = await queryRows<{ payload: any }>(
        ctx().db,
        sql`SELECT payload FROM domain_events WHERE name = 'channel.stateChanged' AND aggregate_id = ${c.id} ORDER BY id`,
      );
      assert.equal(events.at(-1)!.payload.to, 'error');
      // New settings that register bring it back.
      const fixed = await ctx().request('PATCH', `/api/v1/channels/${c.id}`, {
        body: { settings: { authToken: fake.authToken } },
      });
      assert.equal(fixed.body.state, 'active');
    });

    it('marks the client unreachable when Twilio says they replied STOP (21610)', async () => {
      const c = await channel('+14155550122');
      const session = await openedSession(c, '+16505550008');
      fake.failNext(400, 21610, 'Attempt to send to unsubscribed recipient');
      await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, { body: { text: 'sms' } });
      const [client] = await waitFor(async () => {
        const rows = await queryRows<{ unreachable: boolean }>(
          ctx().db,
          sql`SELECT unreachable FROM clients WHERE channel_id = ${c.id}`,
        );
        return rows[0]?.unreachable ? rows : null;
      }, 5000);
      assert.equal(client!.unreachable, true);
    });
  },
  { background: true, fetchAllowPrivate: ['127.0.0.1'] },
);
