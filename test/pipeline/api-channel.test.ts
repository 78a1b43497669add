import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { insertMessageBatch } from '../../src/domain/message/message-batch.repository.ts';
import { signApiBody } from '../../src/providers/api/api.provider.ts';
import { ApiCallbackServer } from '../fakes/api-callback.ts';
import { stubProviders } from '../fakes/stub-providers.ts';
import { describeEachDatabase, postForm, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, createUser, unique } from '../helpers/factories.ts';

const SECRET = 'api-channel-secret-0123456789';

async function webhook(
  ctx: TestContext,
  channelId: string,
  body: unknown,
  opts: { secret?: string; raw?: string } = {},
) {
  const raw = opts.raw ?? JSON.stringify(body);
  const res = await ctx.app.inject({
    method: 'POST',
    url: `/webhooks/api/${channelId}`,
    headers: {
      'content-type': 'application/json',
      'x-omniline-signature': signApiBody(opts.secret ?? SECRET, raw),
    },
    payload: raw,
  });
  return { status: res.statusCode, body: res.json() };
}

async function count(
  ctx: TestContext,
  table: 'messages' | 'sessions' | 'clients' | 'contacts',
  channelId: string,
) {
  const where = table === 'contacts' ? sql`TRUE` : sql`channel_id = ${channelId}`;
  const [row] = await queryRows<{ n: number }>(
    ctx.db,
    sql`SELECT count(*)::int AS n FROM ${sql.raw(table)} WHERE ${where}`,
  );
  return row!.n;
}

describeEachDatabase(
  'api channel pipeline',
  (ctx) => {
    let callback: ApiCallbackServer;
    before(async () => {
      callback = await ApiCallbackServer.start();
    });
    after(() => callback.close());

    async function setup() {
      const operator = await createUser(ctx(), 'operator');
      const line = await createLine(ctx(), { operatorIds: [operator.id] });
      const channel = await createChannel(ctx(), line.id, 'api', {
        settings: { secret: SECRET, callbackUrl: `${callback.url}/inbox` },
      });
      return { operator, line, channel };
    }

    /** A client writes once; returns the session that opened. */
    async function firstSession(channelId: string) {
      await webhook(ctx(), channelId, message());
      const res = await ctx().request('POST', '/api/v1/sessions/search', {
        body: { where: { field: 'channelId', op: 'eq', value: channelId } },
      });
      return res.body.items[0];
    }

    const message = (over: Record<string, unknown> = {}) => ({
      messageId: unique('m'),
      from: { id: unique('u'), username: 'ann', name: 'Ann Lee' },
      text: 'hello',
      timestamp: '2026-01-01T10:00:00Z',
      ...over,
    });

    it('stores a signed message: client, contact, a Waiting session and the message, in one go', async () => {
      const { channel } = await setup();
      const m = message();
      const res = await webhook(ctx(), channel.id, m);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { ok: true, stored: 1, duplicates: 0, updated: 0, ignored: 0 });
      const sessions = await ctx().request('POST', '/api/v1/sessions/search', {
        body: { where: { field: 'channelId', op: 'eq', value: channel.id } },
      });
      assert.equal(sessions.body.total, 1);
      const session = sessions.body.items[0];
      assert.equal(session.state, 'Waiting');
      assert.equal(session.unreadClientMessageCount, 1);
      const client = (await ctx().request('GET', `/api/v1/clients/${session.clientIds[0]}`)).body;
      assert.equal(client.externalId, m.from.id);
      assert.equal(client.firstName, 'Ann');
      assert.equal(client.lastName, 'Lee');
      assert.equal(client.applicationItem.type, 'contact');
      const contact = (await ctx().request('GET', `/api/v1/contacts/${client.applicationItem.id}`)).body;
      assert.equal(contact.name, 'Ann Lee');
      const last = (await ctx().request('GET', `/api/v1/sessions/${session.id}/last-message`)).body;
      assert.equal(last.text, 'hello');
      assert.equal(last.direction, 'incoming');
      assert.equal(last.externalId, m.messageId);
      assert.deepEqual(last.sender, { type: 'client', id: client.id });
    });

    it('stores a message sent twice once, and acknowledges both', async () => {
      const { channel } = await setup();
      const m = message();
      assert.equal((await webhook(ctx(), channel.id, m)).body.stored, 1);
      const again = await webhook(ctx(), channel.id, m);
      assert.equal(again.status, 200);
      assert.equal(again.body.duplicates, 1);
      assert.equal(await count(ctx(), 'messages', channel.id), 1);
    });

    it('stores concurrent copies of one message once', async () => {
      const { channel } = await setup();
      const m = message();
      const replies = await Promise.all(Array.from({ length: 10 }, () => webhook(ctx(), channel.id, m)));
      assert.ok(replies.every((r) => r.status === 200));
      assert.equal(
        replies.reduce((n, r) => n + r.body.stored, 0),
        1,
      );
      assert.equal(await count(ctx(), 'messages', channel.id), 1);
      assert.equal(await count(ctx(), 'sessions', channel.id), 1);
    });

    it('writes a group-committed batch with each message answered on its own', async () => {
      const { channel } = await setup();
      const ann = { id: unique('u'), name: 'Ann' };
      const bob = { id: unique('u'), name: 'Bob' };
      const before = message({ from: ann });
      await webhook(ctx(), channel.id, before);
      await webhook(ctx(), channel.id, message({ from: bob }));
      const at = new Date('2026-01-01T10:00:00Z');
      const item = (from: { id: string }, externalMessageId: string, text: string) => ({
        channelId: channel.id,
        externalUserId: from.id,
        type: 'text',
        text,
        externalMessageId,
        at,
      });
      const twice = unique('m');
      const results = await insertMessageBatch(ctx().database.db, [
        item(ann, unique('m'), 'one'),
        item(ann, twice, 'two "quoted" \\ {braces}'),
        item(ann, twice, 'two again'),
        item(bob, unique('m'), 'three'),
        item(ann, before.messageId, 'sent before'),
        item({ id: unique('stranger') }, unique('m'), 'first contact'),
      ]);
      assert.deepEqual(
        results.map((r) => r.kind),
        ['stored', 'stored', 'duplicate', 'stored', 'duplicate', 'general'],
      );
      const stored = results.flatMap((r) => (r.kind === 'stored' ? [r.event] : []));
      assert.equal(new Set(stored.map((e) => e.payload.messageId)).size, 3);
      assert.equal(stored[1]!.view?.message.text, 'two "quoted" \\ {braces}');
      const sessions = await ctx().request('POST', '/api/v1/sessions/search', {
        body: { where: { field: 'channelId', op: 'eq', value: channel.id } },
      });
      const unread = Object.fromEntries(
        sessions.body.items.map((x: { id: string; unreadClientMessageCount: number }) => [
          x.id,
          x.unreadClientMessageCount,
        ]),
      );
      const annSession = stored[0]!.payload.sessionId;
      assert.equal(stored[1]!.payload.sessionId, annSession);
      assert.equal(unread[annSession], 3, "Ann's two new messages add to her first");
      assert.equal(unread[stored[2]!.payload.sessionId], 2);
      assert.equal(await count(ctx(), 'messages', channel.id), 5);
    });

    it('appends to the open session, and opens a new chained one after a close', async () => {
      const { channel } = await setup();
      const from = { id: unique('u'), name: 'Bo' };
      await webhook(ctx(), channel.id, message({ from }));
      await webhook(ctx(), channel.id, message({ from, text: 'again' }));
      const open = await ctx().request('POST', '/api/v1/sessions/search', {
        body: { where: { field: 'channelId', op: 'eq', value: channel.id } },
      });
      assert.equal(open.body.total, 1);
      const first = open.body.items[0];
      assert.equal(first.unreadClientMessageCount, 2);
      await ctx().request('POST', `/api/v1/sessions/${first.id}/close`);
      await webhook(ctx(), channel.id, message({ from, text: 'back' }));
      const all = await ctx().request('POST', '/api/v1/sessions/search', {
        body: {
          where: { field: 'channelId', op: 'eq', value: channel.id },
          sort: [{ field: 'startedAt', dir: 'desc' }],
        },
      });
      assert.equal(all.body.total, 2);
      assert.equal(all.body.items[0].previousSessionId, first.id);
      assert.equal(all.body.items[0].state, 'Waiting');
      assert.equal(await count(ctx(), 'clients', channel.id), 1, 'the client is found again, not duplicated');
    });

    it('names a client the messenger gives no name for "New contact <channel>-<id>"', async () => {
      const { channel } = await setup();
      const from = { id: unique('anon') };
      await webhook(ctx(), channel.id, message({ from }));
      const clients = await ctx().request('POST', '/api/v1/clients/search', {
        body: { where: { field: 'externalId', op: 'eq', value: from.id } },
      });
      const name = `New contact ${(await ctx().request('GET', `/api/v1/channels/${channel.id}`)).body.name}-${from.id}`;
      assert.equal(clients.body.items[0].firstName, name);
      const contact = await ctx().request(
        'GET',
        `/api/v1/contacts/${clients.body.items[0].applicationItem.id}`,
      );
      assert.equal(contact.body.name, name);
    });

    it('refuses a wrong or missing signature with 401 and stores nothing', async () => {
      const { channel } = await setup();
      const bad = await webhook(ctx(), channel.id, message(), { secret: 'not-the-secret-0123456789' });
      assert.equal(bad.status, 401);
      assert.equal(bad.body.error.code, 'INVALID_SIGNATURE');
      const none = await ctx().app.inject({
        method: 'POST',
        url: `/webhooks/api/${channel.id}`,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(message()),
      });
      assert.equal(none.statusCode, 401);
      assert.equal(await count(ctx(), 'messages', channel.id), 0);
      assert.equal(await count(ctx(), 'clients', channel.id), 0);
    });

    it('answers bad input with a 4xx naming the problem and writes nothing', async () => {
      const { channel } = await setup();
      const cases: [unknown, string | undefined, string, string][] = [
        [null, '{"messageId":', 'INVALID_JSON', 'body'],
        [{ ...message(), messageId: undefined }, undefined, 'INVALID_PAYLOAD', 'body.messageId'],
        [{ ...message(), from: undefined }, undefined, 'INVALID_PAYLOAD', 'body.from'],
        [{ ...message(), from: { name: 'x' } }, undefined, 'INVALID_PAYLOAD', 'body.from.id'],
        [{ ...message(), text: undefined }, undefined, 'INVALID_PAYLOAD', 'body.text'],
        [
          { ...message(), attachments: [{ url: 'ftp://x' }] },
          undefined,
          'INVALID_PAYLOAD',
          'body.attachments[0].url',
        ],
        [{ ...message(), timestamp: 'soon' }, undefined, 'INVALID_PAYLOAD', 'body.timestamp'],
      ];
      for (const [body, raw, code, path] of cases) {
        const res = await webhook(ctx(), channel.id, body, raw ? { raw } : {});
        assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, code);
        assert.equal(res.body.error.details.errors[0].path, path);
      }
      assert.equal(await count(ctx(), 'messages', channel.id), 0);
      assert.equal(await count(ctx(), 'sessions', channel.id), 0);
    });

    it('refuses unknown providers and channels, the wrong provider, inactive channels and huge bodies', async () => {
      const { channel, line } = await setup();
      const raw = JSON.stringify(message());
      const post = (url: string, payload = raw) =>
        ctx().app.inject({
          method: 'POST',
          url,
          headers: {
            'content-type': 'application/json',
            'x-omniline-signature': signApiBody(SECRET, payload),
          },
          payload,
        });
      assert.equal((await post(`/webhooks/nosuch/${channel.id}`)).json().error.code, 'UNKNOWN_PROVIDER');
      assert.equal(
        (await post('/webhooks/api/00000000-0000-4000-8000-000000000000')).json().error.code,
        'CHANNEL_NOT_FOUND',
      );
      assert.equal((await post('/webhooks/api/not-an-id')).statusCode, 404);
      const other = await createChannel(ctx(), line.id, 'telegram');
      const mismatch = await post(`/webhooks/api/${other.id}`);
      assert.equal(mismatch.statusCode, 400);
      assert.equal(mismatch.json().error.code, 'PROVIDER_MISMATCH');
      const big = await post(
        `/webhooks/api/${channel.id}`,
        JSON.stringify({ ...message(), text: 'x'.repeat(2 * 1024 * 1024) }),
      );
      assert.equal(big.statusCode, 413);
      await ctx().request('POST', `/api/v1/channels/${channel.id}/disconnect`);
      const inactive = await post(`/webhooks/api/${channel.id}`);
      assert.equal(inactive.statusCode, 409);
      assert.equal(inactive.json().error.code, 'CHANNEL_NOT_ACTIVE');
      assert.equal(await count(ctx(), 'messages', channel.id), 0);
    });

    it('sends an operator reply to the callback URL, signed, and records it sent', async () => {
      const { channel, operator } = await setup();
      const m = message();
      await webhook(ctx(), channel.id, m);
      const [session] = (
        await ctx().request('POST', '/api/v1/sessions/search', {
          body: { where: { field: 'channelId', op: 'eq', value: channel.id } },
        })
      ).body.items;
      await ctx().request('POST', `/api/v1/sessions/${session.id}/assign`, {
        body: { operatorId: operator.id },
      });
      const sent = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        token: operator.token,
        body: { text: 'How can I help?' },
      });
      assert.equal(sent.status, 201);
      assert.equal(sent.body.status, 'pending');
      const before = callback.requests.length;
      callback.answerNext({ status: 200, body: { messageId: 'remote-1' } });
      await ctx().platform.worker.drain();
      const request = callback.requests[before]!;
      assert.equal(request.path, '/inbox');
      assert.equal(request.headers['x-omniline-signature'], signApiBody(SECRET, request.raw));
      assert.equal(request.body.messageId, sent.body.id);
      assert.deepEqual(request.body.to, { id: m.from.id });
      assert.equal(request.body.text, 'How can I help?');
      assert.deepEqual(request.body.from, { id: operator.id, name: operator.login, type: 'operator' });
      const stored = (await ctx().request('GET', `/api/v1/sessions/${session.id}/last-message`)).body;
      assert.equal(stored.status, 'sent');
      assert.equal(stored.externalId, 'remote-1');
      const s = (await ctx().request('GET', `/api/v1/sessions/${session.id}`)).body;
      assert.ok(s.firstAnswerAt, 'the first operator reply sets firstAnswerAt');
      const edit = await ctx().request('PATCH', `/api/v1/messages/${sent.body.id}`, {
        token: operator.token,
        body: { text: 'x' },
      });
      assert.equal(edit.status, 409);
      assert.equal(edit.body.error.code, 'EDIT_NOT_SUPPORTED');
    });

    it('retries a send after 5xx and 429 (honouring Retry-After) and sends it once it is accepted', async () => {
      const { channel } = await setup();
      const session = await firstSession(channel.id);
      const sent = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: 'retry me' },
      });
      const before = callback.requests.length;
      callback.answerNext({ status: 503 }, { status: 429, headers: { 'retry-after': '0' } }, { status: 200 });
      for (let i = 0; i < 50 && callback.requests.length - before < 3; i++) {
        await ctx().platform.worker.drain();
        await new Promise((r) => setTimeout(r, 40));
      }
      const attempts = callback.requests.slice(before).filter((r) => r.body.messageId === sent.body.id);
      assert.equal(attempts.length, 3);
      const stored = (await ctx().request('GET', `/api/v1/sessions/${session.id}/last-message`)).body;
      assert.equal(stored.status, 'sent');
      await ctx().platform.worker.drain();
      assert.equal(
        callback.requests.slice(before).filter((r) => r.body.messageId === sent.body.id).length,
        3,
        'never sent again',
      );
    });

    it('fails a send the receiver refuses for good, with the error', async () => {
      const { channel } = await setup();
      const session = await firstSession(channel.id);
      await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, { body: { text: 'nope' } });
      callback.answerNext({ status: 400, body: { error: 'unknown recipient' } });
      await ctx().platform.worker.drain();
      const stored = (await ctx().request('GET', `/api/v1/sessions/${session.id}/last-message`)).body;
      assert.equal(stored.status, 'failed');
      assert.equal(stored.error.code, 'REJECTED');
    });

    it('downloads an attachment into the file store after acknowledging, and serves it to who may see it', async () => {
      const { channel, operator } = await setup();
      const bytes = Buffer.from('%PDF-1.4 fake invoice');
      const url = callback.serveFile(`/files/${unique('invoice')}.pdf`, bytes, 'application/pdf');
      const res = await webhook(
        ctx(),
        channel.id,
        message({ text: null, attachments: [{ url, name: 'invoice.pdf', mimeType: 'application/pdf' }] }),
      );
      assert.equal(res.body.stored, 1);
      const [session] = (
        await ctx().request('POST', '/api/v1/sessions/search', {
          body: { where: { field: 'channelId', op: 'eq', value: channel.id } },
        })
      ).body.items;
      const pending = (await ctx().request('GET', `/api/v1/sessions/${session.id}/last-message`)).body;
      assert.equal(pending.type, 'file');
      assert.equal(pending.attachments[0].fileId, null, 'acknowledged before the download');
      await ctx().platform.worker.drain();
      const done = (await ctx().request('GET', `/api/v1/sessions/${session.id}/last-message`)).body;
      const fileId = done.attachments[0].fileId;
      assert.ok(fileId);
      assert.equal(done.attachments[0].size, bytes.length);
      const file = await ctx().app.inject({
        method: 'GET',
        url: `/api/v1/files/${fileId}`,
        headers: { authorization: `Bearer ${operator.token}` },
      });
      assert.equal(file.statusCode, 200);
      assert.equal(file.headers['content-type'], 'application/pdf');
      assert.deepEqual(file.rawPayload, bytes);
      const stranger = await createUser(ctx(), 'operator');
      const hidden = await ctx().request('GET', `/api/v1/files/${fileId}`, { token: stranger.token });
      assert.equal(hidden.status, 404);
    });

    it('sends files uploaded with the message (multipart) and lists them on the message', async () => {
      const { channel } = await setup();
      const session = await firstSession(channel.id);
      const form = new FormData();
      form.append('text', 'here is the photo');
      // Seven bytes that begin as a PNG does: the type stored is what the bytes are.
      const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a]);
      form.append('file', new Blob([png], { type: 'image/png' }), 'photo.png');
      const res = await postForm(ctx(), `/api/v1/sessions/${session.id}/messages`, form);
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json();
      assert.equal(body.type, 'image');
      assert.equal(body.attachments[0].name, 'photo.png');
      assert.equal(body.attachments[0].size, 7);
      const before = callback.requests.length;
      await ctx().platform.worker.drain();
      assert.equal(callback.requests[before]!.body.attachments[0].fileId, body.attachments[0].fileId);
    });

    it('refuses to send into a closed session or with nothing to send', async () => {
      const { channel } = await setup();
      const session = await firstSession(channel.id);
      const empty = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: '  ' },
      });
      assert.equal(empty.status, 400);
      assert.equal(empty.body.error.details.errors[0].path, 'body.text');
      const operator = await createUser(ctx(), 'operator');
      const notTheirs = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        token: operator.token,
        body: { text: 'hi' },
      });
      assert.equal(notTheirs.status, 404);
      await ctx().request('POST', `/api/v1/sessions/${session.id}/close`);
      const closed = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: 'hi' },
      });
      assert.equal(closed.status, 409);
      assert.equal(closed.body.error.code, 'SESSION_CLOSED');
    });

    it('applies client typing, read receipts and edits without new messages', async () => {
      const { channel } = await setup();
      const from = { id: unique('u'), name: 'Cy' };
      const m = message({ from });
      await webhook(ctx(), channel.id, m);
      const [session] = (
        await ctx().request('POST', '/api/v1/sessions/search', {
          body: { where: { field: 'channelId', op: 'eq', value: channel.id } },
        })
      ).body.items;
      const reply = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: 'answer' },
      });
      await ctx().platform.worker.drain();
      const typing: string[] = [];
      const off = ctx().services.deps.bus.on('client.typing', (e) => typing.push(e.payload.sessionId ?? ''));
      assert.equal((await webhook(ctx(), channel.id, { event: 'typing', from })).body.updated, 1);
      off();
      assert.deepEqual(typing, [session.id]);
      const read = await webhook(ctx(), channel.id, { event: 'read', from, messageId: reply.body.id });
      assert.equal(read.body.updated, 1);
      const page = (await ctx().request('GET', `/api/v1/sessions/${session.id}/messages`)).body.items;
      assert.equal(page.find((x: { id: string }) => x.id === reply.body.id).status, 'read');
      const edited = await webhook(ctx(), channel.id, {
        event: 'edited',
        from,
        messageId: m.messageId,
        text: 'hello (edited)',
      });
      assert.equal(edited.body.updated, 1);
      const original = (
        await ctx().request('GET', `/api/v1/sessions/${session.id}/messages`)
      ).body.items.find((x: { externalId: string }) => x.externalId === m.messageId);
      assert.equal(original.text, 'hello (edited)');
      assert.ok(original.editedAt);
      assert.equal(await count(ctx(), 'messages', channel.id), 2);
    });
  },
  { plugins: [stubProviders()] },
);
