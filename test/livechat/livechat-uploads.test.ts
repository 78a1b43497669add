/** A visitor's files: uploaded with caps on size and type, attached only by their uploader, into their own session. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { describeEachDatabase } from '../helpers/app.ts';
import { createChannel, createLine, createUser } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { connectOperator } from '../live/operator-client.ts';
import { connectVisitor } from './visitor-client.ts';

const ORIGIN = 'https://shop.example';
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Array(200).fill(7)]);

describeEachDatabase(
  'live chat uploads',
  (ctx) => {
    async function world(settings: Record<string, unknown> = {}) {
      const operator = await createUser(ctx(), 'operator', { name: 'Olga Operator' });
      const line = await createLine(ctx(), { operatorIds: [operator.id] });
      const channel = await createChannel(ctx(), line.id, 'livechat', {
        settings: { allowedOrigins: [ORIGIN], ...settings },
      });
      return { operator, line, channel };
    }
    /** A download link as the server signs it (absolute under its public URL), fetched from the test server. */
    const download = (url: string) => {
      const { pathname, search } = new URL(url, 'http://omniline.test');
      return fetch(`${ctx().url}${pathname}${search}`);
    };

    it('stores an image, and the message naming it reaches the operator with the file in the session', async () => {
      const { operator, channel } = await world();
      const url = ctx().url!;
      const config = await fetch(`${url}/livechat/${channel.id}/config`, { headers: { origin: ORIGIN } });
      const widget = (await config.json()) as { maxUploadBytes: number; uploadTypes: string[] };
      assert.equal(widget.maxUploadBytes, 10 * 1024 * 1024);
      assert.ok(widget.uploadTypes.includes('image/png'));
      const desk = await connectOperator(url, operator.token);
      const visitor = await connectVisitor(url, channel.id, { origin: ORIGIN });
      const up = await visitor.upload(PNG, 'photo.png', 'image/png');
      assert.equal(up.status, 201, JSON.stringify(up.body));
      assert.equal(up.body.mimeType, 'image/png');
      assert.equal(up.body.size, PNG.length);
      assert.equal(up.body.name, 'photo.png');
      const preview = await download(up.body.url);
      assert.equal(preview.status, 200);
      assert.deepEqual(new Uint8Array(await preview.arrayBuffer()), PNG);

      const messageId = randomUUID();
      const sent = await visitor.command({ event: 'message', messageId, files: [up.body.id] });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      assert.equal(sent.body.stored, 1);
      // A resend after a drop: stored once.
      const again = await visitor.command({ event: 'message', messageId, files: [up.body.id] });
      assert.deepEqual([again.body.stored, again.body.duplicates], [0, 1]);

      const started = await desk.waitForEvent('chatSessionStarted');
      const sessionId = started.data.id as string;
      const messages = await ctx().request('GET', `/api/v1/sessions/${sessionId}/messages`, {
        token: operator.token,
      });
      const [stored] = messages.body.items;
      assert.equal(messages.body.items.length, 1);
      assert.equal(stored.type, 'image');
      assert.equal(stored.text, null);
      assert.equal(stored.attachments[0].mimeType, 'image/png');
      const fileId = stored.attachments[0].fileId as string;
      assert.ok(fileId, 'the attachment points at the stored file at once');
      // The file belongs to the visitor's session: its operator may read it.
      await waitFor(async () => {
        const s = (await ctx().request('GET', `/api/v1/sessions/${sessionId}`)).body;
        return s.state === 'AssignedToOperator';
      });
      const file = await ctx().request('GET', `/api/v1/files/${fileId}`, { token: operator.token });
      assert.equal(file.status, 200);
      // The visitor's own stream and history show it with a working link.
      const echo = await visitor.waitFor('message', (e) => e.message.clientMessageId === messageId);
      assert.equal(echo.message.attachments[0].mimeType, 'image/png');
      assert.equal((await download(echo.message.attachments[0].url)).status, 200);
      const history = await visitor.history();
      assert.equal(history.body.items[0].attachments[0].name, 'photo.png');
      assert.equal((await download(history.body.items[0].attachments[0].url)).status, 200);
      visitor.close();
      desk.close();
    });

    it('refuses files of other types by their content, and files past the channel cap', async () => {
      const { channel } = await world({ maxUploadBytes: 1000 });
      const visitor = await connectVisitor(ctx().url!, channel.id, { origin: ORIGIN });
      const svg = await visitor.upload(
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        'a.svg',
        'image/svg+xml',
      );
      assert.equal(svg.status, 415);
      assert.equal(svg.body.error.code, 'FILE_TYPE_NOT_ALLOWED');
      // HTML that claims to be a PNG is HTML.
      const html = await visitor.upload('<html><script>alert(1)</script></html>', 'cat.png', 'image/png');
      assert.equal(html.status, 415);
      assert.equal(html.body.error.details.mimeType, 'text/html');
      const exe = await visitor.upload(
        new Uint8Array([0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0, 4]),
        'setup.exe',
        'application/x-msdownload',
      );
      assert.equal(exe.status, 415);
      const big = await visitor.upload(new Uint8Array(1001).fill(0x41), 'big.txt', 'text/plain');
      assert.equal(big.status, 413);
      assert.equal(big.body.error.code, 'PAYLOAD_TOO_LARGE');
      assert.equal(big.body.error.details.maxBytes, 1000);
      const fits = await visitor.upload(new Uint8Array(1000).fill(0x41), 'fits.txt', 'text/plain');
      assert.equal(fits.status, 201, JSON.stringify(fits.body));
      assert.equal(fits.body.mimeType, 'text/plain');
      visitor.close();
    });

    it('refuses uploads on a channel that takes none, and a body that is not multipart', async () => {
      const { channel } = await world({ maxUploadBytes: 0 });
      const visitor = await connectVisitor(ctx().url!, channel.id, { origin: ORIGIN });
      const off = await visitor.upload(PNG, 'photo.png', 'image/png');
      assert.equal(off.status, 413);
      const json = await fetch(`${ctx().url}/livechat/${channel.id}/files`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${visitor.token}`,
          origin: ORIGIN,
          'content-type': 'application/json',
        },
        body: '{}',
      });
      assert.equal(json.status, 415);
      const anonymous = await fetch(`${ctx().url}/livechat/${channel.id}/files`, {
        method: 'POST',
        headers: { origin: ORIGIN },
        body: new FormData(),
      });
      assert.equal(anonymous.status, 401);
      visitor.close();
    });

    it("lets a visitor attach only their own uploads: another visitor's id or a forged one is refused", async () => {
      const { channel } = await world();
      const url = ctx().url!;
      const alice = await connectVisitor(url, channel.id, { origin: ORIGIN });
      const bob = await connectVisitor(url, channel.id, { origin: ORIGIN });
      const up = await alice.upload(PNG, 'alice.png', 'image/png');
      assert.equal(up.status, 201);
      const stolen = await bob.command({ event: 'message', messageId: randomUUID(), files: [up.body.id] });
      assert.equal(stolen.status, 400);
      assert.equal(stolen.body.error.details.errors[0].path, 'body.files[0]');
      const [prefix, payload] = (up.body.id as string).split('.');
      const body = JSON.parse(Buffer.from(payload!, 'base64url').toString());
      const forgedPayload = Buffer.from(JSON.stringify({ ...body, v: bob.visitorId })).toString('base64url');
      const forged = await bob.command({
        event: 'message',
        messageId: randomUUID(),
        files: [`${prefix}.${forgedPayload}.${(up.body.id as string).split('.')[2]}`],
      });
      assert.equal(forged.status, 400);
      const tooMany = await alice.command({
        event: 'message',
        messageId: randomUUID(),
        files: Array(6).fill(up.body.id),
      });
      assert.equal(tooMany.status, 400);
      assert.equal(tooMany.body.error.details.errors[0].path, 'body.files');
      const empty = await alice.command({ event: 'message', messageId: randomUUID(), files: [] });
      assert.equal(empty.status, 400);
      assert.equal(empty.body.error.details.errors[0].path, 'body.text');
      // Bob's history holds nothing of Alice's.
      assert.equal((await bob.history()).body.items.length, 0);
      alice.close();
      bob.close();
    });
  },
  { listen: true, background: true, presenceGraceMs: 300 },
);
