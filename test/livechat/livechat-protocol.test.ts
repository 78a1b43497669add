/** The live-chat visitor protocol end to end over real HTTP and WebSockets (the widget's wire, without a browser). */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { identityHash } from '../../src/providers/livechat/visitor-token.ts';
import { describeEachDatabase } from '../helpers/app.ts';
import { createChannel, createLine, createUser } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { connectOperator } from '../live/operator-client.ts';
import { connectVisitor, visitorRequest } from './visitor-client.ts';

const ORIGIN = 'https://shop.example';
const IDENTITY_SECRET = 'identity-secret-0123456789';

describeEachDatabase(
  'live chat visitors',
  (ctx) => {
    async function world() {
      const operator = await createUser(ctx(), 'operator', { name: 'Olga Operator' });
      const line = await createLine(ctx(), { operatorIds: [operator.id] });
      const channel = await createChannel(ctx(), line.id, 'livechat', {
        settings: { allowedOrigins: [ORIGIN], identitySecret: IDENTITY_SECRET, title: 'Help' },
      });
      return { operator, line, channel };
    }

    it('carries a visitor message to the operator and the reply, typing and read receipt back', async () => {
      const { operator, channel } = await world();
      const url = ctx().url!;
      const desk = await connectOperator(url, operator.token);
      const visitor = await connectVisitor(url, channel.id, {
        origin: ORIGIN,
        name: 'Vera Visitor',
        email: 'vera@example.com',
      });
      const messageId = randomUUID();
      const sent = await visitor.send('Hello <b>there</b>', messageId);
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const started = await desk.waitForEvent('chatSessionStarted');
      assert.equal(started.data.channel, 'livechat');
      assert.equal(started.data.name, 'Vera Visitor');
      assert.equal(started.data.referer, 'https://search.example/?q=shop');
      assert.equal(started.data.pageUrl, 'https://shop.example/pricing');
      assert.ok(started.data.clientIp, 'the visitor address is on the session');
      assert.equal(started.data.coordinates, null, 'no GeoIP database: no coordinates');
      const sessionId = started.data.id as string;
      // The first message is in the session the operator is offered (it came before the offer).
      assert.equal(started.data.lastMessage.text, 'Hello <b>there</b>');
      // Their own message comes back on their stream (other tabs), with their uuid.
      await visitor.waitFor('message', (e) => e.message.clientMessageId === messageId);

      // A resend of the same uuid (after a network drop) is stored once.
      const again = await visitor.send('Hello <b>there</b>', messageId);
      assert.deepEqual([again.body.stored, again.body.duplicates], [0, 1]);

      // Typing both ways.
      await visitor.centrifuge.rpc('typing', {});
      await desk.waitForEvent('typing', (d) => d.from === 'client' && d.sessionId === sessionId);
      await desk.centrifuge.rpc('typing', { sessionId });
      await visitor.waitFor('typing');

      await waitFor(async () => {
        const s = (await ctx().request('GET', `/api/v1/sessions/${sessionId}`)).body;
        return s.state === 'AssignedToOperator';
      });
      const reply = await ctx().request('POST', `/api/v1/sessions/${sessionId}/messages`, {
        token: operator.token,
        body: { text: 'How can I help?' },
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      const got = await visitor.waitFor('message', (e) => e.message.author === 'operator');
      assert.equal(got.message.text, 'How can I help?');
      assert.equal(got.message.name, 'Olga Operator');

      // The visitor reads it: the operator is told; the operator reads: the visitor is told.
      await visitor.command({ event: 'read' });
      await desk.waitForEvent('chatMessageRead', (d) => d.sessionId === sessionId);
      await ctx().request('POST', `/api/v1/sessions/${sessionId}/read`, { token: operator.token });
      await visitor.waitFor('read', (e) => e.sessionId === sessionId);

      // History, paged, newest first.
      const page1 = await visitor.history();
      assert.equal(page1.status, 200);
      assert.deepEqual(
        page1.body.items.map((m: any) => m.author),
        ['operator', 'visitor'],
      );
      const page2 = await visitor.history(page1.body.nextCursor);
      assert.equal(page2.body.items.length, 0);

      // The visitor ends the chat and rates it; the rating is stored once.
      await visitor.command({ event: 'close' });
      await visitor.waitFor('closed', (e) => e.sessionId === sessionId && e.byClient);
      const rate = () =>
        visitorRequest(url, 'POST', `/livechat/${channel.id}/rating`, {
          token: visitor.token,
          origin: ORIGIN,
          body: { sessionId, rating: 5, comment: 'quick' },
        });
      assert.equal((await rate()).status, 201);
      assert.equal((await rate()).body.error.code, 'ALREADY_RATED');
      visitor.close();
      desk.close();
    });

    it('tells operators the visitor went offline after the grace period, and online again', async () => {
      const { operator, channel } = await world();
      const url = ctx().url!;
      const desk = await connectOperator(url, operator.token);
      const visitor = await connectVisitor(url, channel.id, { origin: ORIGIN });
      await visitor.send('anyone?');
      const started = await desk.waitForEvent('chatSessionStarted');
      visitor.close();
      const offline = await desk.waitForEvent('clientOffline', (d) => d.sessionId === started.data.id);
      assert.equal(offline.action, 'clientOffline');
      const back = await connectVisitor(url, channel.id, { origin: ORIGIN, visitorId: visitor.visitorId });
      await desk.waitForEvent('clientOnline', (d) => d.sessionId === started.data.id);
      back.close();
      desk.close();
    });

    it('refuses a wrong identity hash and keeps a verified visitor one client on any device', async () => {
      const { channel } = await world();
      const url = ctx().url!;
      const wrong = await visitorRequest(url, 'POST', `/livechat/${channel.id}/visitors`, {
        origin: ORIGIN,
        body: { identity: { id: 'user-42', hash: identityHash('not-the-secret-000000', 'user-42') } },
      });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.error.code, 'IDENTITY_REFUSED');
      const identity = { id: 'user-42', name: 'Ivan', hash: identityHash(IDENTITY_SECRET, 'user-42') };
      const laptop = await connectVisitor(url, channel.id, { origin: ORIGIN, identity });
      await laptop.send('from the laptop');
      const phone = await connectVisitor(url, channel.id, { origin: ORIGIN, identity });
      assert.equal(phone.visitorId, 'u:user-42');
      const history = await phone.history();
      assert.equal(history.body.items[0].text, 'from the laptop');
      laptop.close();
      phone.close();
    });

    it("refuses a foreign origin over HTTP and at the WebSocket, and another visitor's token for a session", async () => {
      const { channel } = await world();
      const url = ctx().url!;
      const http = await visitorRequest(url, 'POST', `/livechat/${channel.id}/visitors`, {
        origin: 'https://evil.example',
        body: {},
      });
      assert.equal(http.status, 403);
      assert.equal(http.body.error.code, 'ORIGIN_NOT_ALLOWED');
      const issued = await visitorRequest(url, 'POST', `/livechat/${channel.id}/visitors`, {
        origin: ORIGIN,
        body: {},
      });
      // The same valid token from a page of another origin: refused at connect (3500, terminal).
      const { Centrifuge } = await import('centrifuge');
      const WebSocket = (await import('ws')).default;
      const c = new Centrifuge(`${url.replace(/^http/, 'ws')}/connection/websocket`, {
        websocket: class extends WebSocket {
          constructor(u: string, p?: string | string[]) {
            super(u, p, { headers: { origin: 'https://evil.example' } });
          }
        },
        token: issued.body.token,
        data: { channel: channel.id },
      });
      const closed = new Promise<number>((resolve) => c.once('disconnected', (d) => resolve(d.code)));
      c.connect();
      assert.equal(await closed, 3500);
      // A token of one visitor cannot rate (or read) another's session.
      const a = await connectVisitor(url, channel.id, { origin: ORIGIN });
      await a.send('mine');
      const [session] = (
        await ctx().request('POST', '/api/v1/sessions/search', {
          body: { where: { field: 'channelId', op: 'eq', value: channel.id } },
        })
      ).body.items;
      const b = await connectVisitor(url, channel.id, { origin: ORIGIN });
      const foreign = await visitorRequest(url, 'POST', `/livechat/${channel.id}/rating`, {
        token: b.token,
        origin: ORIGIN,
        body: { sessionId: session.id, rating: 1 },
      });
      assert.equal(foreign.status, 404);
      assert.equal((await b.history()).body.items.length, 0);
      const forged = await visitorRequest(url, 'GET', `/livechat/${channel.id}/messages`, {
        token: `${b.token.slice(0, -4)}AAAA`,
        origin: ORIGIN,
      });
      assert.equal(forged.status, 401);
      a.close();
      b.close();
    });
  },
  { listen: true, background: true, presenceGraceMs: 300 },
);
