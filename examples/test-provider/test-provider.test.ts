/**
 * The example plugin end to end: loaded the way OMNILINE_PLUGINS loads it, inside the real app on a
 * fresh database, talking to a local fake of the Test messenger.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPlugins } from '../../src/plugins.ts';
import { describeEachDatabase, postForm } from '../../test/helpers/app.ts';
import { createLine, unique } from '../../test/helpers/factories.ts';
import type { TestIncomingMessage } from './converter.ts';
import { type FakePage, FakeTestMessenger } from './fake-messenger.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const plugins = await loadPlugins(['./examples/test-provider/index.ts'], ROOT);

describeEachDatabase(
  'example plugin: the Test messenger provider',
  (ctx) => {
    let fake: FakeTestMessenger;
    before(async () => {
      fake = await FakeTestMessenger.start();
    });
    after(async () => {
      await fake.close();
    });

    async function createTestChannel(page: FakePage = fake.addPage()) {
      const line = await createLine(ctx());
      const name = unique('Test');
      const res = await ctx().request('POST', '/api/v1/channels', {
        body: { lineId: line.id, name, type: 'test', settings: { token: page.token, apiRoot: fake.apiRoot } },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return { page, line, channel: res.body as { id: string; name: string; source: string } };
    }

    /** Delivers a webhook as the messenger would: POST /webhooks/test/<channelId>. */
    async function deliver(channelId: string, body: TestIncomingMessage, headers: Record<string, string>) {
      const res = await ctx().app.inject({
        method: 'POST',
        url: `/webhooks/test/${channelId}`,
        headers,
        payload: JSON.stringify(body),
      });
      return { status: res.statusCode, body: res.json() };
    }

    async function sessionsOf(channelId: string) {
      const res = await ctx().request('POST', '/api/v1/sessions/search', {
        body: { where: { field: 'channelId', op: 'eq', value: channelId } },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.items as { id: string; state: string; clientIds: string[] }[];
    }

    /** A channel with one stored message from a user the messenger knows; returns its session. */
    async function conversation() {
      const setup = await createTestChannel();
      const user = fake.addUser({ id: unique('user'), first_name: 'Ann', last_name: 'Lee' });
      const incoming = fake.incoming(setup.page, { sender: user.id, message: 'hi there' });
      assert.equal((await deliver(setup.channel.id, incoming, fake.webhookHeaders(setup.page))).status, 200);
      const [session] = await sessionsOf(setup.channel.id);
      assert.ok(session);
      return { ...setup, user, incoming, session };
    }

    it('is loaded through OMNILINE_PLUGINS as the provider of a new channel type "test"', () => {
      assert.deepEqual(
        plugins.flatMap((p) => p.providers ?? []).map((p) => p.name),
        ['test'],
      );
      assert.ok(ctx().platform.registry.channelTypes().includes('test'));
      assert.equal(ctx().platform.registry.get('test')?.channelType, 'test');
    });

    it('registers a test channel: the token is checked with GET /me and the page id becomes its Source', async () => {
      const page = fake.addPage('Acme support');
      const { channel } = await createTestChannel(page);
      assert.equal(channel.source, page.id);
      const shown = await ctx().request('GET', `/api/v1/channels/${channel.id}`);
      assert.equal(shown.body.type, 'test');
      assert.equal(shown.body.state, 'active');
      assert.deepEqual(
        shown.body.settings,
        { token: '********', apiRoot: fake.apiRoot },
        'the token is write-only; apiRoot is public',
      );
      assert.ok(fake.requests.some((r) => r.method === 'GET' && r.path === '/me' && r.authorized));
    });

    it('refuses (422 CHANNEL_REGISTRATION_FAILED) a token the messenger does not know, and stores no channel', async () => {
      const line = await createLine(ctx());
      const name = unique('Test');
      const res = await ctx().request('POST', '/api/v1/channels', {
        body: {
          lineId: line.id,
          name,
          type: 'test',
          settings: { token: 'tt_unknown_token', apiRoot: fake.apiRoot },
        },
      });
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'CHANNEL_REGISTRATION_FAILED');
      assert.equal(res.body.error.details.providerCode, 'INVALID_CREDENTIALS');
      assert.doesNotMatch(res.body.error.message, /tt_unknown_token/, 'the token is never echoed');
      const found = await ctx().request('POST', '/api/v1/channels/search', {
        body: { where: { field: 'name', op: 'eq', value: name } },
      });
      assert.equal(found.body.total, 0);
    });

    it('refuses (400) settings without a token, naming settings.token, before calling the messenger', async () => {
      const line = await createLine(ctx());
      const calls = fake.requests.length;
      const res = await ctx().request('POST', '/api/v1/channels', {
        body: { lineId: line.id, name: unique('Test'), type: 'test', settings: { apiRoot: fake.apiRoot } },
      });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.details.errors[0].path, 'settings.token');
      assert.equal(fake.requests.length, calls);
    });

    it('stores a webhook with the right token: a Waiting session, a client and contact named from the profile', async () => {
      const { channel, page } = await createTestChannel();
      const user = fake.addUser({
        id: unique('user'),
        first_name: 'Ann',
        last_name: 'Lee',
        photo_url: 'https://cdn.test.example/ann.jpg',
      });
      const incoming = fake.incoming(page, { sender: user.id, message: 'hello from Test' });
      const res = await deliver(channel.id, incoming, fake.webhookHeaders(page));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body, { ok: true, stored: 1, duplicates: 0, updated: 0, ignored: 0 });

      const sessions = await sessionsOf(channel.id);
      assert.equal(sessions.length, 1);
      const session = sessions[0]!;
      assert.equal(session.state, 'Waiting');
      const client = (await ctx().request('GET', `/api/v1/clients/${session.clientIds[0]}`)).body;
      assert.equal(client.externalId, user.id);
      assert.equal(client.firstName, 'Ann');
      assert.equal(client.lastName, 'Lee');
      assert.equal(client.avatarUrl, 'https://cdn.test.example/ann.jpg');
      assert.equal(client.applicationItem.type, 'contact');
      const contact = (await ctx().request('GET', `/api/v1/contacts/${client.applicationItem.id}`)).body;
      assert.equal(contact.name, 'Ann Lee');
      const message = (await ctx().request('GET', `/api/v1/sessions/${session.id}/last-message`)).body;
      assert.equal(message.text, 'hello from Test');
      assert.equal(message.direction, 'incoming');
      assert.equal(message.type, 'text');
      assert.equal(message.externalId, incoming.id);

      const again = await deliver(channel.id, incoming, fake.webhookHeaders(page));
      assert.equal(again.body.duplicates, 1, 'a redelivery is acknowledged and stored once');
    });

    it('answers 401 to a webhook with a wrong, missing or other page’s token, and stores nothing', async () => {
      const { channel, page } = await createTestChannel();
      const other = fake.addPage();
      const incoming = fake.incoming(page, { sender: unique('user') });
      const headers = [
        { 'content-type': 'application/json', 'x-test-token': `${page.token}x` },
        { 'content-type': 'application/json' },
        fake.webhookHeaders(other),
      ];
      for (const h of headers) {
        const res = await deliver(channel.id, incoming, h);
        assert.equal(res.status, 401, JSON.stringify(h));
        assert.equal(res.body.error.code, 'INVALID_TOKEN');
      }
      assert.equal((await sessionsOf(channel.id)).length, 0);
      const clients = await ctx().request('POST', '/api/v1/clients/search', {
        body: { where: { field: '_channel', op: 'eq', value: { id: channel.id } } },
      });
      assert.equal(clients.body.total, 0);
    });

    it('refuses (400 RECIPIENT_MISMATCH) a message addressed to another page, and stores nothing', async () => {
      const { channel, page } = await createTestChannel();
      const incoming = fake.incoming(page, { sender: unique('user'), recipient: 'page-somebody-else' });
      const res = await deliver(channel.id, incoming, fake.webhookHeaders(page));
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'RECIPIENT_MISMATCH');
      assert.equal((await sessionsOf(channel.id)).length, 0);
    });

    it('names the client and contact "New contact <channel name>-<sender id>" when the profile lookup fails', async () => {
      const { channel, page } = await createTestChannel();
      const failing = unique('user');
      fake.failProfile(failing, 500);
      const unknown = unique('user'); // the messenger answers 404 for it
      for (const sender of [failing, unknown]) {
        const res = await deliver(channel.id, fake.incoming(page, { sender }), fake.webhookHeaders(page));
        assert.equal(res.status, 200, 'the message is stored all the same');
        assert.equal(res.body.stored, 1);
      }
      const sessions = await sessionsOf(channel.id);
      assert.equal(sessions.length, 2);
      const names = new Set<string>();
      for (const session of sessions) {
        const client = (await ctx().request('GET', `/api/v1/clients/${session.clientIds[0]}`)).body;
        const placeholder = `New contact ${channel.name}-${client.externalId}`;
        assert.equal(client.firstName, placeholder);
        assert.equal(client.lastName, null);
        const contact = (await ctx().request('GET', `/api/v1/contacts/${client.applicationItem.id}`)).body;
        assert.equal(contact.name, placeholder);
        names.add(client.externalId);
      }
      assert.deepEqual([...names].sort(), [failing, unknown].sort());
    });

    it('downloads an attachment into the file store once the job worker runs', async () => {
      const { channel, page } = await createTestChannel();
      // latin1: the PNG signature's bytes themselves (as UTF-8, \x89 would be two other bytes).
      const bytes = Buffer.from('\x89PNG\r\n\x1a\n fake image bytes', 'latin1');
      const uploadUrl = fake.addFile('photo.png', bytes, 'image/png');
      const incoming = fake.incoming(page, {
        sender: unique('user'),
        message: null,
        attachments: [{ uploadUrl, fileType: 'image/png' }],
      });
      assert.equal((await deliver(channel.id, incoming, fake.webhookHeaders(page))).status, 200);
      const [session] = await sessionsOf(channel.id);
      const lastMessage = async () =>
        (await ctx().request('GET', `/api/v1/sessions/${session!.id}/last-message`)).body;
      const stored = await lastMessage();
      assert.equal(stored.type, 'image');
      assert.equal(stored.text, null);
      assert.deepEqual(stored.attachments, [
        { fileId: null, name: 'photo.png', mimeType: 'image/png', size: null },
      ]);

      await ctx().platform.worker.drain();
      const loaded = await lastMessage();
      const [attachment] = loaded.attachments;
      assert.ok(attachment.fileId, 'the attachment points at the stored file');
      assert.equal(attachment.size, bytes.length);
      assert.ok(
        fake.requests.some(
          (r) => r.method === 'GET' && new URL(uploadUrl).pathname === r.path && r.authorized,
        ),
        'the download carried the page token',
      );
      const file = await ctx().app.inject({
        method: 'GET',
        url: `/api/v1/files/${attachment.fileId}`,
        headers: { authorization: `Bearer ${ctx().adminToken}` },
      });
      assert.equal(file.statusCode, 200);
      assert.equal(file.headers['content-type'], 'image/png');
      assert.deepEqual(file.rawPayload, bytes);
    });

    it('sends an operator reply to POST {apiRoot}/messages as the designed JSON and records it sent with the messenger id', async () => {
      const { page, user, session } = await conversation();
      const res = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: 'Hello Ann, how can we help?' },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.status, 'pending');
      const sentBefore = fake.sent.length;
      const before = Date.now();
      await ctx().platform.worker.drain();
      const after = Date.now();

      assert.equal(fake.sent.length, sentBefore + 1);
      const sent = fake.sent[sentBefore]!;
      assert.equal(sent.page.id, page.id);
      assert.equal(sent.headers.authorization, `Bearer ${page.token}`);
      assert.equal(sent.headers['content-type'], 'application/json');
      assert.equal(sent.headers['idempotency-key'], res.body.id, 'our message id de-duplicates retries');
      const body = sent.body as { timestamp: number };
      assert.deepEqual(body, {
        sender: page.id,
        recipient: user.id,
        message: 'Hello Ann, how can we help?',
        timestamp: body.timestamp,
        attachments: [],
      });
      assert.ok(Number.isInteger(body.timestamp) && body.timestamp >= before && body.timestamp <= after);

      const message = (await ctx().request('GET', `/api/v1/sessions/${session.id}/last-message`)).body;
      assert.equal(message.id, res.body.id);
      assert.equal(message.status, 'sent');
      assert.equal(message.externalId, sent.id);
    });

    it('uploads the files of an operator reply to POST {apiRoot}/files and sends their uploadUrl', async () => {
      const { page, session } = await conversation();
      const form = new FormData();
      form.append('text', 'the invoice');
      form.append(
        'file',
        new Blob([Buffer.from('%PDF-1.4 invoice')], { type: 'application/pdf' }),
        'invoice.pdf',
      );
      const res = await postForm(ctx(), `/api/v1/sessions/${session.id}/messages`, form);
      assert.equal(res.statusCode, 201, res.body);
      const uploadsBefore = fake.uploads.length;
      const sentBefore = fake.sent.length;
      await ctx().platform.worker.drain();

      const upload = fake.uploads[uploadsBefore];
      assert.ok(upload);
      assert.equal(upload.page.id, page.id);
      assert.equal(upload.name, 'invoice.pdf');
      assert.equal(upload.type, 'application/pdf');
      assert.equal(upload.data.toString(), '%PDF-1.4 invoice');
      const sent = fake.sent[sentBefore]!.body as { message: string; attachments: unknown };
      assert.equal(sent.message, 'the invoice');
      assert.deepEqual(sent.attachments, [{ uploadUrl: upload.uploadUrl, fileType: 'application/pdf' }]);
      const message = (await ctx().request('GET', `/api/v1/sessions/${session.id}/last-message`)).body;
      assert.equal(message.status, 'sent');
    });
  },
  { plugins },
);
