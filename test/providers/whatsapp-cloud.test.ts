import assert from 'node:assert/strict';
import { after, before, beforeEach, it } from 'node:test';
import { signMetaBody } from '../../src/providers/meta/meta-webhook.ts';
import { toE164 } from '../../src/providers/phone.ts';
import { clientIdOf } from '../../src/providers/whatsapp-cloud/whatsapp-webhook.converter.ts';
import { FakeMetaGraphApi, PHONE_NUMBER_ID, WABA_ID, whatsappWebhook } from '../fakes/meta-graph-api.ts';
import { describeEachDatabase, postForm } from '../helpers/app.ts';
import { createChannel, createLine } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { APP_SECRET, clientsOf, messagesOf, postSigned, sessionsOf, VERIFY_TOKEN } from './meta-helpers.ts';

/** The envelope of Meta's documentation samples, around change values. */
const envelope = whatsappWebhook;

const SHEENA = { contacts: [{ profile: { name: 'Sheena Nelson' }, wa_id: '16505551234' }] };

/** Meta's text message sample (Cloud API webhook reference, "messages" field). */
function textSample(id: string, body = 'Does it come in another color?', from = '16505551234') {
  return {
    ...SHEENA,
    messages: [{ from, id, timestamp: '1749416383', type: 'text', text: { body } }],
  };
}

it('signs like Meta: the reference test vector and the fake agree with the provider', () => {
  assert.equal(
    signMetaBody('secret', 'test'),
    'sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914',
  );
  const { raw, headers } = FakeMetaGraphApi.signed('secret', 'test');
  assert.equal(raw, 'test');
  assert.equal(headers['x-hub-signature-256'], signMetaBody('secret', 'test'));
});

it('names a WhatsApp sender by E.164, the same number in every spelling', () => {
  assert.equal(clientIdOf('16505551234'), '+16505551234');
  assert.equal(clientIdOf('16505551234'), toE164('whatsapp:+1 650 555 1234'));
  assert.equal(clientIdOf('16505551234'), toE164('+1 (650) 555-1234'));
});

describeEachDatabase(
  'whatsappCloud provider',
  (ctx) => {
    let fake: FakeMetaGraphApi;
    before(async () => {
      fake = await FakeMetaGraphApi.start();
    });
    after(() => fake.close());
    beforeEach(() => fake.reset());

    let seq = 0;
    const wamid = () => `wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA${seq++}`;

    async function whatsappChannel() {
      // One live channel per phone number id: delete the previous test's.
      const live = await ctx().request('POST', '/api/v1/channels/search', {
        body: { where: { field: 'type', op: 'eq', value: 'whatsapp' } },
      });
      for (const c of live.body.items) await ctx().request('DELETE', `/api/v1/channels/${c.id}`);
      const line = await createLine(ctx());
      return createChannel(ctx(), line.id, 'whatsapp', {
        settings: {
          provider: 'whatsappCloud',
          accessToken: fake.token,
          appSecret: APP_SECRET,
          verifyToken: VERIFY_TOKEN,
          phoneNumberId: PHONE_NUMBER_ID,
          wabaId: WABA_ID,
          apiRoot: fake.apiRoot,
        },
      });
    }

    it('registers: checks the token on the phone number, subscribes the app, shows no secret', async () => {
      const channel = await whatsappChannel();
      assert.equal((channel as any).source, PHONE_NUMBER_ID);
      assert.deepEqual((channel as any).settings, {
        provider: 'whatsappCloud',
        accessToken: '********',
        appSecret: '********',
        verifyToken: '********',
        phoneNumberId: PHONE_NUMBER_ID,
        wabaId: WABA_ID,
        apiRoot: fake.apiRoot,
        apiVersion: 'v23.0',
      });
      const [lookup] = fake.calls('GET', PHONE_NUMBER_ID);
      assert.equal(lookup?.authorization, `Bearer ${fake.token}`);
      assert.equal(lookup?.query.fields, 'display_phone_number,verified_name');
      assert.equal(fake.calls('POST', `${WABA_ID}/subscribed_apps`).length, 1);
    });

    it('refuses a channel whose token Meta rejects (422) and stores nothing', async () => {
      const line = await createLine(ctx());
      const res = await ctx().request('POST', '/api/v1/channels', {
        body: {
          lineId: line.id,
          name: 'bad token',
          type: 'whatsapp',
          settings: {
            provider: 'whatsappCloud',
            accessToken: 'EAAG-wrong-token-0123456789',
            appSecret: APP_SECRET,
            verifyToken: VERIFY_TOKEN,
            phoneNumberId: '999000111',
            apiRoot: fake.apiRoot,
          },
        },
      });
      assert.equal(res.status, 422);
      assert.equal(res.body.error.code, 'CHANNEL_REGISTRATION_FAILED');
      assert.equal(res.body.error.details.providerCode, 'INVALID_CREDENTIALS');
      assert.ok(!JSON.stringify(res.body).includes('wrong-token'));
    });

    it('names the settings field that is wrong', async () => {
      const line = await createLine(ctx());
      const res = await ctx().request('POST', '/api/v1/channels', {
        body: {
          lineId: line.id,
          name: 'x',
          type: 'whatsapp',
          settings: {
            provider: 'whatsappCloud',
            accessToken: fake.token,
            appSecret: APP_SECRET,
            verifyToken: VERIFY_TOKEN,
            phoneNumberId: 'abc',
          },
        },
      });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.details.errors[0].path, 'settings.phoneNumberId');
    });

    it("answers Meta's hub challenge with the verify token, and refuses a wrong one", async () => {
      const channel = await whatsappChannel();
      const ok = await ctx().app.inject({
        method: 'GET',
        url: `/webhooks/whatsappCloud/${channel.id}?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`,
      });
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.body, '1158201444');
      const wrong = await ctx().app.inject({
        method: 'GET',
        url: `/webhooks/whatsappCloud/${channel.id}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444`,
      });
      assert.equal(wrong.statusCode, 403);
    });

    it('refuses a missing or wrong signature with 401 and stores nothing', async () => {
      const channel = await whatsappChannel();
      const body = envelope([textSample(wamid())]);
      const wrong = await postSigned(ctx(), 'whatsappCloud', channel.id, body, { secret: 'another-secret' });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error.code, 'INVALID_SIGNATURE');
      const res = await ctx().app.inject({
        method: 'POST',
        url: `/webhooks/whatsappCloud/${channel.id}`,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });
      assert.equal(res.statusCode, 401);
      // Re-serialised JSON does not carry the signature of the raw bytes.
      const { headers } = FakeMetaGraphApi.signed(APP_SECRET, body);
      const reformatted = await ctx().app.inject({
        method: 'POST',
        url: `/webhooks/whatsappCloud/${channel.id}`,
        headers,
        payload: JSON.stringify(body, null, 2),
      });
      assert.equal(reformatted.statusCode, 401);
      assert.equal((await messagesOf(ctx(), channel.id)).length, 0);
    });

    it("stores the documentation's text message once under the profile name, however often Meta retries", async () => {
      const channel = await whatsappChannel();
      const id = wamid();
      const body = envelope([textSample(id)]);
      for (let i = 0; i < 3; i++) {
        const res = await postSigned(ctx(), 'whatsappCloud', channel.id, body);
        assert.equal(res.status, 200);
      }
      const messages = await messagesOf(ctx(), channel.id);
      assert.equal(messages.length, 1);
      assert.equal(messages[0]!.text, 'Does it come in another color?');
      assert.equal(messages[0]!.external_id, id);
      const [client] = await clientsOf(ctx(), channel.id);
      assert.equal(client!.external_id, '+16505551234');
      assert.equal(client!.phone, '+16505551234');
      assert.equal(client!.first_name, 'Sheena Nelson');
    });

    it('gives a sender without a profile name the placeholder name', async () => {
      const channel = await whatsappChannel();
      await postSigned(
        ctx(),
        'whatsappCloud',
        channel.id,
        envelope([{ messages: textSample(wamid(), 'hi', '447911123456').messages }]),
      );
      const [client] = await clientsOf(ctx(), channel.id);
      assert.match(client!.first_name!, /^New contact .+-\+447911123456$/);
    });

    it('keeps one client and one open session for one number in different spellings', async () => {
      const channel = await whatsappChannel();
      await postSigned(
        ctx(),
        'whatsappCloud',
        channel.id,
        envelope([textSample(wamid(), 'one', '16505551234')]),
      );
      await postSigned(
        ctx(),
        'whatsappCloud',
        channel.id,
        envelope([textSample(wamid(), 'two', '+1 650 555 1234')]),
      );
      assert.equal((await clientsOf(ctx(), channel.id)).length, 1);
      assert.equal((await sessionsOf(ctx(), channel.id)).length, 1);
      assert.equal((await messagesOf(ctx(), channel.id)).length, 2);
    });

    it('stores every message type of a batched webhook, each attachment as a file in the store', async () => {
      const channel = await whatsappChannel();
      const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
      const pdf = Buffer.from('%PDF-1.4\n%fake pdf\n');
      const ogg = Buffer.from('OggS\0fake voice note');
      const mp4 = Buffer.concat([Buffer.from('000000186674797069736f6d', 'hex'), Buffer.alloc(16)]);
      const webp = Buffer.from('RIFF\0\0\0\0WEBPVP8 fake');
      fake.media.set('1001', { data: png, mimeType: 'image/png' });
      fake.media.set('1002', { data: pdf, mimeType: 'application/pdf' });
      fake.media.set('1003', { data: ogg, mimeType: 'audio/ogg' });
      fake.media.set('1004', { data: mp4, mimeType: 'video/mp4' });
      fake.media.set('1005', { data: webp, mimeType: 'image/webp' });
      const from = '16505551234';
      const msg = (type: string, payload: Record<string, unknown>) => ({
        from,
        id: wamid(),
        timestamp: '1749416383',
        type,
        ...payload,
      });
      const body = envelope([
        {
          ...SHEENA,
          messages: [
            msg('image', {
              image: { caption: 'the blue one', mime_type: 'image/png', sha256: 'x', id: '1001' },
            }),
            msg('document', {
              document: { filename: 'invoice.pdf', mime_type: 'application/pdf', sha256: 'x', id: '1002' },
            }),
          ],
        },
        {
          ...SHEENA,
          messages: [
            msg('audio', {
              audio: { mime_type: 'audio/ogg; codecs=opus', sha256: 'x', id: '1003', voice: true },
            }),
            msg('video', { video: { mime_type: 'video/mp4', sha256: 'x', id: '1004' } }),
            msg('sticker', {
              sticker: { mime_type: 'image/webp', sha256: 'x', id: '1005', animated: false },
            }),
            msg('location', {
              location: {
                latitude: 37.483307,
                longitude: -122.148981,
                name: 'Philz Coffee',
                address: '101 Forest Ave, Palo Alto, CA 94301',
              },
            }),
            msg('contacts', {
              contacts: [
                {
                  name: { formatted_name: 'Barbara J. Johnson', first_name: 'Barbara' },
                  phones: [{ phone: '+1 (940) 555-1234', type: 'HOME' }],
                },
              ],
            }),
            msg('interactive', {
              interactive: { type: 'button_reply', button_reply: { id: 'yes', title: 'Yes, please' } },
            }),
            msg('interactive', {
              interactive: {
                type: 'list_reply',
                list_reply: { id: 'ship', title: 'Express', description: 'Next day' },
              },
            }),
            msg('button', {
              context: { from: '15550783881', id: 'wamid.T' },
              button: { payload: 'STOP', text: 'Stop promotions' },
            }),
            msg('reaction', { reaction: { message_id: 'wamid.X', emoji: '👍' } }),
          ],
        },
      ]);
      const res = await postSigned(ctx(), 'whatsappCloud', channel.id, body);
      assert.equal(res.status, 200);
      assert.equal(res.body.stored, 11);
      const messages = await messagesOf(ctx(), channel.id);
      assert.deepEqual(
        messages.map((m) => m.type),
        ['image', 'file', 'audio', 'video', 'image', 'location', 'contact', 'text', 'text', 'text', 'text'],
      );
      assert.equal(messages[0]!.text, 'the blue one');
      assert.match(messages[5]!.text!, /Philz Coffee, 101 Forest Ave.*q=37.483307,-122.148981/);
      assert.match(messages[6]!.text!, /Barbara J. Johnson \+1 \(940\) 555-1234/);
      assert.deepEqual(
        messages.slice(7).map((m) => m.text),
        ['Yes, please', 'Express — Next day', 'Stop promotions', '👍'],
      );
      const stored = await waitFor(
        async () => {
          const rows = await messagesOf(ctx(), channel.id);
          const files = rows.slice(0, 5).map((m) => m.attachments[0]);
          return files.every((a) => a?.fileId) && files;
        },
        10_000,
        'five attachments in the file store',
      );
      assert.deepEqual(
        stored.map((a) => a!.size),
        [png.length, pdf.length, ogg.length, mp4.length, webp.length],
      );
      assert.equal(stored[1]!.name, 'invoice.pdf');
      const file = await ctx().request('GET', `/api/v1/files/${stored[1]!.fileId}`);
      assert.equal(file.status, 200);
      // Each media id was looked up, then its URL fetched with the same token.
      const bytes = fake.calls('GET', /^media-bytes\//);
      assert.equal(bytes.length, 5);
      assert.ok(bytes.every((r) => r.authorization === `Bearer ${fake.token}`));
    });

    it('refuses media larger than the WhatsApp limit without storing it', async () => {
      const channel = await whatsappChannel();
      fake.media.set('2001', { data: Buffer.alloc(6 * 1024 * 1024, 1), mimeType: 'image/jpeg' });
      await postSigned(
        ctx(),
        'whatsappCloud',
        channel.id,
        envelope([
          {
            ...SHEENA,
            messages: [
              {
                from: '16505551234',
                id: wamid(),
                timestamp: '1749416383',
                type: 'image',
                image: { id: '2001', mime_type: 'image/jpeg' },
              },
            ],
          },
        ]),
      );
      await waitFor(async () => {
        const [m] = await messagesOf(ctx(), channel.id);
        return m && fake.calls('GET', '2001').length > 0;
      });
      await new Promise((r) => setTimeout(r, 300));
      const [m] = await messagesOf(ctx(), channel.id);
      assert.equal(m!.attachments[0]!.fileId, null);
      assert.equal(fake.calls('GET', /^media-bytes\/2001/).length, 0, 'refused on the announced size');
    });

    async function openSession() {
      const channel = await whatsappChannel();
      await postSigned(ctx(), 'whatsappCloud', channel.id, envelope([textSample(wamid(), 'hello')]));
      const [session] = await sessionsOf(ctx(), channel.id);
      return { channel, session: session! };
    }

    it('sends a reply as Meta expects, then tracks its statuses (delivered, read → chatMessageRead)', async () => {
      const { channel, session } = await openSession();
      const sent = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: 'Yes: blue and red' },
      });
      assert.equal(sent.status, 201);
      const out = await waitFor(async () =>
        (await messagesOf(ctx(), channel.id, 'outgoing')).find((m) => m.status === 'sent'),
      );
      const [call] = fake.calls('POST', `${PHONE_NUMBER_ID}/messages`);
      assert.equal(call!.authorization, `Bearer ${fake.token}`);
      assert.deepEqual(call!.body, {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: '16505551234',
        type: 'text',
        text: { body: 'Yes: blue and red', preview_url: false },
      });
      const status = (s: string) =>
        envelope([
          {
            statuses: [
              {
                id: out.external_id,
                status: s,
                timestamp: '1749416400',
                recipient_id: '16505551234',
                conversation: { id: 'c1', origin: { type: 'service' } },
                pricing: { billable: true, pricing_model: 'PMP', category: 'service' },
              },
            ],
          },
        ]);
      await postSigned(ctx(), 'whatsappCloud', channel.id, status('delivered'));
      assert.equal((await messagesOf(ctx(), channel.id, 'outgoing'))[0]!.status, 'delivered');
      await postSigned(ctx(), 'whatsappCloud', channel.id, status('read'));
      // A late "delivered" retry does not move a read message back.
      await postSigned(ctx(), 'whatsappCloud', channel.id, status('delivered'));
      assert.equal((await messagesOf(ctx(), channel.id, 'outgoing'))[0]!.status, 'read');
    });

    it("marks the client's latest message read when an operator reads the session", async () => {
      const channel = await whatsappChannel();
      const first = wamid();
      const latest = wamid();
      await postSigned(ctx(), 'whatsappCloud', channel.id, envelope([textSample(first, 'one')]));
      await postSigned(ctx(), 'whatsappCloud', channel.id, envelope([textSample(latest, 'two')]));
      const [session] = await sessionsOf(ctx(), channel.id);
      const read = await ctx().request('POST', `/api/v1/sessions/${session!.id}/read`);
      assert.equal(read.status, 200);
      const [call] = await waitFor(async () => {
        const calls = fake.calls('POST', `${PHONE_NUMBER_ID}/messages`);
        return calls.length > 0 && calls;
      });
      assert.equal(call!.authorization, `Bearer ${fake.token}`);
      assert.deepEqual(call!.body, { messaging_product: 'whatsapp', status: 'read', message_id: latest });
    });

    it('records a failed status with the reason Meta gives', async () => {
      const { channel, session } = await openSession();
      await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, { body: { text: 'hi' } });
      const out = await waitFor(async () =>
        (await messagesOf(ctx(), channel.id, 'outgoing')).find((m) => m.status === 'sent'),
      );
      await postSigned(
        ctx(),
        'whatsappCloud',
        channel.id,
        envelope([
          {
            statuses: [
              {
                id: out.external_id,
                status: 'failed',
                timestamp: '1749416400',
                recipient_id: '16505551234',
                errors: [{ code: 131026, title: 'Message undeliverable' }],
              },
            ],
          },
        ]),
      );
      const [failed] = await messagesOf(ctx(), channel.id, 'outgoing');
      assert.equal(failed!.status, 'failed');
      assert.match(failed!.error!.message, /131026 Message undeliverable/);
    });

    it('sends a file by link with its caption', async () => {
      const { channel, session } = await openSession();
      const form = new FormData();
      form.append(
        'file',
        new Blob([Buffer.from('%PDF-1.4 quote')], { type: 'application/pdf' }),
        'quote.pdf',
      );
      const upload = await postForm(ctx(), '/api/v1/files', form);
      assert.equal(upload.statusCode, 201, upload.body);
      const uploaded = upload.json();
      const fileId = (uploaded.items ?? uploaded)[0].id;
      const res = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: 'your quote', fileIds: [fileId] },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const done = await waitFor(async () =>
        (await messagesOf(ctx(), channel.id, 'outgoing')).find((m) => m.status !== 'pending'),
      );
      assert.equal(done.status, 'sent', JSON.stringify(done.error));
      const [call] = fake.calls('POST', `${PHONE_NUMBER_ID}/messages`);
      assert.equal(call!.body.type, 'document');
      const doc = call!.body.document as Record<string, unknown>;
      assert.equal(doc.caption, 'your quote');
      assert.equal(doc.filename, 'quote.pdf');
      assert.match(String(doc.link), /^http:\/\/omniline\.test\//);
    });

    it('refuses a free-form reply after 24 hours with 409 WINDOW_CLOSED and sends a template instead', async () => {
      const { channel, session } = await openSession();
      ctx().clock.set(new Date(Date.now() + 25 * 3_600_000));
      try {
        const refused = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
          body: { text: 'late' },
        });
        assert.equal(refused.status, 409);
        assert.equal(refused.body.error.code, 'WINDOW_CLOSED');
        assert.equal(refused.body.error.details.templates, true);
        assert.equal(refused.body.error.details.windowHours, 24);
        const template = {
          name: 'order_update',
          language: 'en_US',
          components: [{ type: 'body', parameters: [{ type: 'text', text: 'A-1042' }] }],
        };
        const sent = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
          body: { template },
        });
        assert.equal(sent.status, 201, JSON.stringify(sent.body));
        await waitFor(async () =>
          (await messagesOf(ctx(), channel.id, 'outgoing')).find((m) => m.status === 'sent'),
        );
        const [call] = fake.calls('POST', `${PHONE_NUMBER_ID}/messages`);
        assert.deepEqual(call!.body, {
          messaging_product: 'whatsapp',
          recipient_type: 'individual',
          to: '16505551234',
          type: 'template',
          template: { name: 'order_update', language: { code: 'en_US' }, components: template.components },
        });
        const bad = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
          body: { template: { name: 'Bad Name', language: 'en' } },
        });
        assert.equal(bad.status, 400);
        assert.equal(bad.body.error.details.errors[0].path, 'body.template.name');
      } finally {
        ctx().clock.set(new Date());
      }
    });

    it('retries a rate-limited send (130429) with backoff until it goes through', async () => {
      const { channel, session } = await openSession();
      const limit = {
        error: { message: '(#130429) Rate limit hit', type: 'OAuthException', code: 130429, fbtrace_id: 'x' },
      };
      fake.failNext('POST', new RegExp(`^${PHONE_NUMBER_ID}/messages$`), 400, limit);
      fake.failNext('POST', new RegExp(`^${PHONE_NUMBER_ID}/messages$`), 400, {
        error: { ...limit.error, code: 80007 },
      });
      await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, { body: { text: 'busy day' } });
      const out = await waitFor(
        async () => (await messagesOf(ctx(), channel.id, 'outgoing')).find((m) => m.status === 'sent'),
        10_000,
      );
      assert.match(out.external_id!, /^wamid\.FAKE/);
      assert.equal(fake.calls('POST', `${PHONE_NUMBER_ID}/messages`).length, 3);
    });

    it('puts the channel in error when Meta says the token expired, with the reason in GET /channels/:id', async () => {
      const { channel, session } = await openSession();
      const { EXPIRED_TOKEN } = await import('../fakes/meta-graph-api.ts');
      fake.failNext('POST', new RegExp(`^${PHONE_NUMBER_ID}/messages$`), 401, EXPIRED_TOKEN);
      await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, { body: { text: 'hello?' } });
      const view = await waitFor(async () => {
        const res = await ctx().request('GET', `/api/v1/channels/${channel.id}`);
        return res.body.state === 'error' && res.body;
      });
      assert.match(view.stateReason, /INVALID_CREDENTIALS: .*Session has expired/);
      assert.ok(!view.stateReason.includes(fake.token));
      const [out] = await messagesOf(ctx(), channel.id, 'outgoing');
      assert.equal(out!.status, 'failed');
    });
  },
  { background: true },
);
