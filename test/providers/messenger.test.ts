/**
 * The Messenger Platform providers — `messenger` (Facebook pages, channel type `facebook`) and
 * `instagram` — through the real webhook route and outbound worker, against the local Graph API
 * fake. The payloads follow the samples of Meta's webhook reference (messages, messaging_postbacks,
 * message_reactions, message_edits, message_reads, message_deliveries, Instagram story replies and
 * mentions); every request the server makes is checked as Meta would see it.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { channelRepository } from '../../src/domain/channel/channel.repository.ts';
import { SUBSCRIBED_FIELDS } from '../../src/providers/messenger/messenger.provider.ts';
import {
  EXPIRED_TOKEN,
  FakeMetaGraphApi,
  IG_ACCOUNT_ID,
  messagingWebhook,
  PAGE_ID,
} from '../fakes/meta-graph-api.ts';
import { describeEachDatabase } from '../helpers/app.ts';
import { createLine } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { APP_SECRET, clientsOf, messagesOf, postSigned, sessionsOf, VERIFY_TOKEN } from './meta-helpers.ts';

interface Flavour {
  provider: 'messenger' | 'instagram';
  type: 'facebook' | 'instagram';
  object: 'page' | 'instagram';
  /** Who the webhooks are addressed to: the page, or the Instagram account linked to it. */
  ownId: string;
  /** The person's id: a PSID, or an IGSID. */
  personId: (n: number) => string;
  profile: Record<string, unknown>;
  profileFields: string;
  profileName: string;
}

const FLAVOURS: Flavour[] = [
  {
    provider: 'messenger',
    type: 'facebook',
    object: 'page',
    ownId: PAGE_ID,
    personId: (n) => `${2400000000000000 + n}`,
    profile: { first_name: 'Peter', last_name: 'Chang', profile_pic: 'https://scontent.example/p.jpg' },
    profileFields: 'first_name,last_name,profile_pic',
    profileName: 'Peter',
  },
  {
    provider: 'instagram',
    type: 'instagram',
    object: 'instagram',
    ownId: IG_ACCOUNT_ID,
    personId: (n) => `${5300000000000000 + n}`,
    profile: { name: 'Nadia Ortiz', username: 'nadia.o', profile_pic: 'https://scontent.example/n.jpg' },
    profileFields: 'name,username,profile_pic',
    profileName: 'Nadia Ortiz',
  },
];

describeEachDatabase(
  'Messenger Platform providers',
  (ctx) => {
    let fake: FakeMetaGraphApi;
    before(async () => {
      fake = await FakeMetaGraphApi.start();
    });
    after(() => fake.close());
    beforeEach(() => fake.reset());

    let seq = 0;
    const mid = () => `m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_${++seq}`;

    for (const f of FLAVOURS) {
      const person = () => f.personId(++seq);
      /** Meta's envelope: one entry per list of messaging items, addressed to our page or account. */
      const envelope = (...batches: Record<string, unknown>[][]) =>
        messagingWebhook(f.object, f.ownId, batches);
      const item = (sender: string, fields: Record<string, unknown>, timestamp = 1458692752478 + seq) => ({
        sender: { id: sender },
        recipient: { id: f.ownId },
        timestamp,
        ...fields,
      });
      const text = (sender: string, body: string, id = mid()) =>
        item(sender, { message: { mid: id, text: body } });
      const post = (channelId: string, body: unknown, opts?: Parameters<typeof postSigned>[4]) =>
        postSigned(ctx(), f.provider, channelId, body, opts);

      async function channel(extra: Record<string, unknown> = {}) {
        // One live channel per page: delete the previous test's.
        const live = await ctx().request('POST', '/api/v1/channels/search', {
          body: { where: { field: 'type', op: 'eq', value: f.type } },
        });
        for (const c of live.body.items) await ctx().request('DELETE', `/api/v1/channels/${c.id}`);
        const line = await createLine(ctx());
        const res = await ctx().request('POST', '/api/v1/channels', {
          body: {
            lineId: line.id,
            name: `${f.provider}-page`,
            type: f.type,
            settings: {
              provider: f.provider,
              pageAccessToken: fake.token,
              appSecret: APP_SECRET,
              verifyToken: VERIFY_TOKEN,
              pageId: PAGE_ID,
              apiRoot: fake.apiRoot,
              ...extra,
            },
          },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        return res.body as { id: string; source: string; settings: Record<string, unknown> };
      }

      /** A channel with a session the person opened by writing "hello". */
      async function conversation(extra: Record<string, unknown> = {}) {
        const c = await channel(extra);
        const psid = person();
        assert.equal((await post(c.id, envelope([text(psid, 'hello')]))).status, 200);
        const [session] = await sessionsOf(ctx(), c.id);
        return { channel: c, psid, session: session! };
      }

      async function sendReply(sessionId: string, channelId: string, body: string) {
        const res = await ctx().request('POST', `/api/v1/sessions/${sessionId}/messages`, {
          body: { text: body },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        return waitFor(async () =>
          (await messagesOf(ctx(), channelId, 'outgoing')).find(
            (m) => m.id === res.body.id && m.status !== 'pending',
          ),
        );
      }

      it(`${f.provider}: registers with the page token, subscribes the page, shows no secret`, async () => {
        const c = await channel();
        assert.equal(c.source, f.ownId);
        assert.deepEqual(c.settings, {
          provider: f.provider,
          pageAccessToken: '********',
          appSecret: '********',
          verifyToken: '********',
          pageId: PAGE_ID,
          apiRoot: fake.apiRoot,
          apiVersion: 'v23.0',
        });
        const [lookup] = fake.calls('GET', PAGE_ID);
        assert.equal(lookup?.authorization, `Bearer ${fake.token}`);
        const [subscribe] = fake.calls('POST', `${PAGE_ID}/subscribed_apps`);
        assert.equal(subscribe?.query.subscribed_fields, SUBSCRIBED_FIELDS);
        assert.match(SUBSCRIBED_FIELDS, /message_reactions/);
        assert.match(SUBSCRIBED_FIELDS, /message_edits/);
      });

      it(`${f.provider}: answers the hub challenge with the verify token only`, async () => {
        const c = await channel();
        const get = (token: string) =>
          ctx().app.inject({
            method: 'GET',
            url: `/webhooks/${f.provider}/${c.id}?hub.mode=subscribe&hub.verify_token=${token}&hub.challenge=1158201444`,
          });
        const ok = await get(VERIFY_TOKEN);
        assert.equal(ok.statusCode, 200);
        assert.equal(ok.body, '1158201444');
        assert.equal((await get('wrong-token-0123')).statusCode, 403);
      });

      it(`${f.provider}: refuses a wrong or missing X-Hub-Signature-256 with 401 and stores nothing`, async () => {
        const c = await channel();
        const body = envelope([text(person(), 'forged')]);
        const wrong = await post(c.id, body, { secret: 'not-the-app-secret' });
        assert.equal(wrong.status, 401);
        assert.equal(wrong.body.error.code, 'INVALID_SIGNATURE');
        const missing = await ctx().app.inject({
          method: 'POST',
          url: `/webhooks/${f.provider}/${c.id}`,
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        });
        assert.equal(missing.statusCode, 401);
        // A signature of another object is refused too (a WhatsApp envelope signed right).
        const other = await post(c.id, { ...body, object: 'whatsapp_business_account' });
        assert.equal(other.status, 400);
        assert.equal((await messagesOf(ctx(), c.id)).length, 0);
        assert.equal((await clientsOf(ctx(), c.id)).length, 0);
      });

      it(`${f.provider}: stores a batched webhook once however often Meta retries it, echoes ignored, names from the profile API`, async () => {
        const c = await channel();
        const known = person();
        const unknown = person();
        fake.profiles.set(known, f.profile);
        const ids = [mid(), mid(), mid()];
        const body = envelope(
          [text(known, 'hello, world!', ids[0]), text(unknown, 'anyone there?', ids[1])],
          [
            text(known, 'second entry', ids[2]),
            // The page's own send, echoed back: never stored (Messenger sends it from the page).
            item(f.ownId, {
              recipient: { id: known },
              message: { mid: mid(), is_echo: true, app_id: 1517776481860111, text: 'our reply' },
            }),
          ],
        );
        for (let i = 0; i < 3; i++) {
          const res = await post(c.id, body);
          assert.equal(res.status, 200);
        }
        const messages = await messagesOf(ctx(), c.id);
        assert.deepEqual(
          messages.map((m) => [m.external_id, m.text]),
          [
            [ids[0], 'hello, world!'],
            [ids[1], 'anyone there?'],
            [ids[2], 'second entry'],
          ],
        );
        assert.equal((await messagesOf(ctx(), c.id, 'outgoing')).length, 0);
        const clients = await clientsOf(ctx(), c.id);
        assert.equal(clients.length, 2);
        const named = clients.find((x) => x.external_id === known)!;
        assert.equal(named.first_name, f.profileName);
        assert.equal(named.avatar_url, f.profile.profile_pic);
        const [lookup] = fake.calls('GET', known);
        assert.equal(lookup!.query.fields, f.profileFields);
        assert.equal(lookup!.authorization, `Bearer ${fake.token}`);
        // No profile for this one (Meta answers code 100): the guide's placeholder name.
        const placeholder = clients.find((x) => x.external_id === unknown)!;
        assert.equal(placeholder.first_name, `New contact ${f.provider}-page-${unknown}`);
        assert.equal((await sessionsOf(ctx(), c.id)).length, 2);
      });

      it(`${f.provider}: downloads each attachment URL into the file store at once`, async () => {
        const c = await channel();
        const psid = person();
        const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806', 'hex');
        const mp4 = Buffer.concat([Buffer.from('000000186674797069736f6d', 'hex'), Buffer.alloc(24)]);
        const m4a = Buffer.from('....ftypM4A fake audio');
        const pdf = Buffer.from('%PDF-1.4\n%fake\n');
        const attachment = (type: string, url: string) => ({ type, payload: { url } });
        const res = await post(
          c.id,
          envelope([
            item(psid, {
              message: {
                mid: mid(),
                text: 'photo of the receipt',
                attachments: [attachment('image', fake.cdnUrl('receipt.png', png, 'image/png'))],
              },
            }),
            item(psid, {
              message: {
                mid: mid(),
                attachments: [attachment('video', fake.cdnUrl('clip.mp4', mp4, 'video/mp4'))],
              },
            }),
            item(psid, {
              message: {
                mid: mid(),
                attachments: [attachment('audio', fake.cdnUrl('voice.m4a', m4a, 'audio/mp4'))],
              },
            }),
            item(psid, {
              message: {
                mid: mid(),
                attachments: [attachment('file', fake.cdnUrl('invoice.pdf', pdf, 'application/pdf'))],
              },
            }),
            item(psid, {
              message: {
                mid: mid(),
                attachments: [
                  { type: 'location', payload: { coordinates: { lat: 37.483307, long: -122.148981 } } },
                ],
              },
            }),
          ]),
        );
        assert.equal(res.status, 200);
        assert.equal(res.body.stored, 5);
        const messages = await messagesOf(ctx(), c.id);
        assert.deepEqual(
          messages.map((m) => m.type),
          ['image', 'video', 'audio', 'file', 'location'],
        );
        assert.equal(messages[0]!.text, 'photo of the receipt');
        assert.match(messages[4]!.text!, /q=37\.483307,-122\.148981/);
        const stored = await waitFor(
          async () => {
            const files = (await messagesOf(ctx(), c.id)).slice(0, 4).map((m) => m.attachments[0]);
            return files.every((a) => a?.fileId) && files;
          },
          10_000,
          'four attachments in the file store',
        );
        assert.deepEqual(
          stored.map((a) => [a!.size, a!.mimeType]),
          [
            [png.length, 'image/png'],
            [mp4.length, 'video/mp4'],
            [m4a.length, 'audio/mp4'],
            [pdf.length, 'application/pdf'],
          ],
        );
        const file = await ctx().app.inject({
          method: 'GET',
          url: `/api/v1/files/${stored[3]!.fileId}`,
          headers: { authorization: `Bearer ${ctx().adminToken}` },
        });
        assert.equal(file.statusCode, 200);
        assert.equal(file.body, pdf.toString());
        // CDN links are signed URLs: the page token never goes with them.
        const downloads = fake.calls('GET', /^cdn\//);
        assert.equal(downloads.length, 4);
        assert.ok(downloads.every((r) => r.authorization === undefined));
      });

      it(`${f.provider}: stores postbacks and quick replies as the person's messages`, async () => {
        const c = await channel();
        const psid = person();
        const postbackMid = mid();
        const body = envelope([
          item(psid, {
            postback: { mid: postbackMid, title: 'Track my order', payload: 'TRACK_ORDER' },
          }),
          item(psid, {
            message: { mid: mid(), text: 'Red', quick_reply: { payload: 'COLOR_RED' } },
          }),
          // Get Started carries no mid in older payloads: one message per person and moment.
          item(psid, { postback: { title: 'Get Started', payload: 'GET_STARTED' } }, 1458692750000),
        ]);
        await post(c.id, body);
        await post(c.id, body);
        const messages = await messagesOf(ctx(), c.id);
        assert.deepEqual(
          messages.map((m) => m.text),
          ['Track my order', 'Red', 'Get Started'],
        );
        assert.equal(messages[0]!.external_id, postbackMid);
      });

      it(`${f.provider}: applies the person's edits and stores reactions as their emoji, once`, async () => {
        const c = await channel();
        const psid = person();
        const original = mid();
        await post(c.id, envelope([text(psid, 'I ordered the blu one', original)]));
        const edit = envelope([
          item(psid, { message_edit: { mid: original, text: 'I ordered the blue one', num_edit: 1 } }),
        ]);
        const edited = await post(c.id, edit);
        assert.equal(edited.status, 200);
        const react = envelope([
          item(
            psid,
            { reaction: { mid: original, action: 'react', reaction: 'love', emoji: '❤️' } },
            1458692760000,
          ),
        ]);
        await post(c.id, react);
        await post(c.id, react); // Meta's retry
        await post(
          c.id,
          envelope([item(psid, { reaction: { mid: original, action: 'unreact' } }, 1458692770000)]),
        );
        const messages = await messagesOf(ctx(), c.id);
        assert.deepEqual(
          messages.map((m) => m.text),
          ['I ordered the blue one', '❤️'],
        );
        const [row] = await queryRows<{ edited_at: Date | null }>(
          ctx().db,
          sql`SELECT edited_at FROM messages WHERE id = ${messages[0]!.id}`,
        );
        assert.ok(row!.edited_at, 'the edit is recorded');
        const events = await queryRows<{ payload: { change: string } }>(
          ctx().db,
          sql`SELECT payload FROM domain_events WHERE name = 'message.updated' AND aggregate_id = ${messages[0]!.id}`,
        );
        assert.deepEqual(
          events.map((e) => e.payload.change),
          ['edited'],
        );
      });

      if (f.provider === 'instagram') {
        it('instagram: stores story replies and story mentions as messages, the story downloaded', async () => {
          const c = await channel();
          const igsid = person();
          const story = Buffer.from('ffd8ffe000104a464946', 'hex');
          const storyUrl = fake.cdnUrl('story.jpg', story, 'image/jpeg');
          await post(
            c.id,
            envelope([
              item(igsid, {
                message: {
                  mid: mid(),
                  text: 'Where can I buy this?',
                  reply_to: { story: { url: 'https://lookaside.fbsbx.com/ig_story/1', id: '17920' } },
                },
              }),
              item(igsid, {
                message: { mid: mid(), attachments: [{ type: 'story_mention', payload: { url: storyUrl } }] },
              }),
            ]),
          );
          const messages = await messagesOf(ctx(), c.id);
          assert.equal(messages.length, 2);
          assert.equal(
            messages[0]!.text,
            'Where can I buy this?\nReplied to your story https://lookaside.fbsbx.com/ig_story/1',
          );
          assert.equal(messages[1]!.type, 'image');
          assert.equal(messages[1]!.text, 'Mentioned you in their story');
          const file = await waitFor(async () => (await messagesOf(ctx(), c.id))[1]!.attachments[0]?.fileId);
          assert.ok(file);
        });
      }

      it(`${f.provider}: sends a reply through the Send API exactly, then follows delivery and read watermarks`, async () => {
        const { channel: c, psid, session } = await conversation();
        const first = await sendReply(session.id, c.id, 'Yes, it comes in blue');
        assert.equal(first.status, 'sent', JSON.stringify(first.error));
        assert.match(first.external_id!, /^m_FAKE/);
        const [call] = fake.calls('POST', `${PAGE_ID}/messages`);
        assert.equal(call!.authorization, `Bearer ${fake.token}`);
        assert.deepEqual(call!.body, {
          recipient: { id: psid },
          messaging_type: 'RESPONSE',
          message: { text: 'Yes, it comes in blue' },
        });
        // message_deliveries names our mids.
        await post(
          c.id,
          envelope([item(psid, { delivery: { mids: [first.external_id], watermark: Date.now() } })]),
        );
        assert.equal((await messagesOf(ctx(), c.id, 'outgoing'))[0]!.status, 'delivered');
        // A read watermark covers what we wrote up to then, not what we write afterwards.
        const watermark = ctx().clock.now().getTime();
        ctx().clock.advance(1000);
        const later = await sendReply(session.id, c.id, 'Anything else?');
        assert.equal(later.status, 'sent');
        await post(c.id, envelope([item(psid, { read: { watermark } })]));
        const statuses = (await messagesOf(ctx(), c.id, 'outgoing')).map((m) => m.status);
        assert.deepEqual(statuses, ['read', 'sent']);
        const reads = await queryRows<{ payload: { change: string; sessionId: string } }>(
          ctx().db,
          sql`SELECT payload FROM domain_events WHERE name = 'message.updated' AND aggregate_id = ${session.id}`,
        );
        assert.ok(
          reads.some((e) => e.payload.change === 'read'),
          'a read event for the session (chatMessageRead to its operators)',
        );
      });

      it(`${f.provider}: refuses a free-form reply after 24 hours with 409 WINDOW_CLOSED`, async () => {
        const { session } = await conversation();
        ctx().clock.set(new Date(Date.now() + 25 * 3_600_000));
        try {
          const refused = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
            body: { text: 'late' },
          });
          assert.equal(refused.status, 409);
          assert.equal(refused.body.error.code, 'WINDOW_CLOSED');
          assert.equal(refused.body.error.details.windowHours, 24);
          assert.equal(fake.calls('POST', `${PAGE_ID}/messages`).length, 0);
        } finally {
          ctx().clock.set(new Date());
        }
      });

      it(`${f.provider}: writes after 24 hours with the HUMAN_AGENT tag where the page allows it, not after 7 days`, async () => {
        const { channel: c, psid, session } = await conversation({ humanAgentTag: true });
        ctx().clock.set(new Date(Date.now() + 30 * 3_600_000));
        try {
          const sent = await sendReply(session.id, c.id, 'Your refund went out today');
          assert.equal(sent.status, 'sent', JSON.stringify(sent.error));
          const [call] = fake.calls('POST', `${PAGE_ID}/messages`);
          assert.deepEqual(call!.body, {
            recipient: { id: psid },
            messaging_type: 'MESSAGE_TAG',
            tag: 'HUMAN_AGENT',
            message: { text: 'Your refund went out today' },
          });
          ctx().clock.set(new Date(Date.now() + 8 * 24 * 3_600_000));
          const refused = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
            body: { text: 'a week later' },
          });
          assert.equal(refused.status, 409);
          assert.equal(refused.body.error.code, 'WINDOW_CLOSED');
        } finally {
          ctx().clock.set(new Date());
        }
      });

      it(`${f.provider}: retries a rate-limited send (130429, then 80007) with backoff until it goes through`, async () => {
        const { channel: c, session } = await conversation();
        const path = new RegExp(`^${PAGE_ID}/messages$`);
        const limit = (code: number) => ({
          error: { message: `(#${code}) Rate limit hit`, type: 'OAuthException', code, fbtrace_id: 'x' },
        });
        fake.failNext('POST', path, 400, limit(130429));
        fake.failNext('POST', path, 400, limit(80007));
        const out = await sendReply(session.id, c.id, 'busy day');
        assert.equal(out.status, 'sent', JSON.stringify(out.error));
        assert.equal(fake.calls('POST', `${PAGE_ID}/messages`).length, 3);
      });

      it(`${f.provider}: an expired page token puts the channel in error with the reason`, async () => {
        const { channel: c, session } = await conversation();
        fake.failNext('POST', new RegExp(`^${PAGE_ID}/messages$`), 401, EXPIRED_TOKEN);
        await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, { body: { text: 'hello?' } });
        const view = await waitFor(async () => {
          const res = await ctx().request('GET', `/api/v1/channels/${c.id}`);
          return res.body.state === 'error' && res.body;
        });
        assert.match(view.stateReason, /INVALID_CREDENTIALS: .*Session has expired/);
        assert.ok(!view.stateReason.includes(fake.token));
        const events = await queryRows<{ payload: { to: string } }>(
          ctx().db,
          sql`SELECT payload FROM domain_events WHERE name = 'channel.stateChanged' AND aggregate_id = ${c.id} ORDER BY id`,
        );
        assert.equal(events.at(-1)!.payload.to, 'error');
        const [out] = await messagesOf(ctx(), c.id, 'outgoing');
        assert.equal(out!.status, 'failed');
      });

      it(`${f.provider}: shows typing_on while an operator types and mark_seen when they read`, async () => {
        const { channel: c, psid, session } = await conversation();
        const row = (await channelRepository.byId(ctx().db, c.id))!;
        const host = ctx().platform.host;
        await host.providerFor(row)!.sendTyping!(host.context(row), { externalId: psid });
        const read = await ctx().request('POST', `/api/v1/sessions/${session.id}/read`);
        assert.equal(read.status, 200);
        const actions = await waitFor(async () => {
          const calls = fake.calls('POST', `${PAGE_ID}/messages`);
          return calls.length === 2 && calls;
        });
        assert.deepEqual(
          actions.map((r) => [r.authorization, r.body]),
          [
            [`Bearer ${fake.token}`, { recipient: { id: psid }, sender_action: 'typing_on' }],
            [`Bearer ${fake.token}`, { recipient: { id: psid }, sender_action: 'mark_seen' }],
          ],
        );
      });
    }
  },
  { background: true },
);
