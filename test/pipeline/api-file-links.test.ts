/**
 * The api channel's callback carries, with each attachment, a signed link that downloads the file
 * without a token until it expires; a link that was tampered with or has expired is refused (403).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { DOWNLOAD_LINK_TTL_SECONDS } from '../../src/files/file-links.ts';
import { ApiCallbackServer } from '../fakes/api-callback.ts';
import { describeEachDatabase, postForm, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine } from '../helpers/factories.ts';
import { API_SECRET, apiWebhook, clientMessage } from '../helpers/webhooks.ts';

const PUBLIC_URL = 'https://omniline.example.com/base';

async function upload(ctx: TestContext, bytes: Buffer, name: string, type: string) {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), name);
  const res = await postForm(ctx, '/api/v1/files', form);
  assert.equal(res.statusCode, 201, res.body);
  return res.json().items[0] as { id: string; size: number };
}

/** GETs a download link of ours through the app, as the receiver would, with no token. */
async function download(ctx: TestContext, url: string) {
  assert.ok(url.startsWith(`${PUBLIC_URL}/api/v1/files/`), url);
  return ctx.app.inject({ method: 'GET', url: url.slice(PUBLIC_URL.length) });
}

describeEachDatabase(
  'api channel file links',
  (ctx) => {
    let callback: ApiCallbackServer;
    before(async () => {
      callback = await ApiCallbackServer.start();
    });
    after(() => callback.close());

    async function sendFiles(files: { id: string }[]) {
      const line = await createLine(ctx());
      const channel = await createChannel(ctx(), line.id, 'api', {
        settings: { secret: API_SECRET, callbackUrl: `${callback.url}/out` },
      });
      assert.equal((await apiWebhook(ctx(), channel.id, clientMessage('links-client'))).status, 200);
      const [session] = (
        await ctx().request('POST', '/api/v1/sessions/search', {
          body: { where: { field: 'channelId', op: 'eq', value: channel.id } },
        })
      ).body.items;
      const sent = await ctx().request('POST', `/api/v1/sessions/${session.id}/messages`, {
        body: { text: 'the files', fileIds: files.map((f) => f.id) },
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      const seen = callback.requests.length;
      await ctx().platform.worker.drain();
      const request = callback.requests.slice(seen).find((r) => r.body?.messageId === sent.body.id);
      assert.ok(request, 'the callback was called');
      return request.body.attachments as {
        fileId: string;
        url: string;
        urlExpiresAt: string;
        size: number;
      }[];
    }

    it('sends a signed link with each attachment that downloads its exact bytes without a token', async () => {
      const binary = randomBytes(70_000);
      const text = Buffer.from('second file\n');
      const a = await upload(ctx(), binary, 'data.bin', 'application/octet-stream');
      const b = await upload(ctx(), text, 'notes.txt', 'text/plain');
      const attachments = await sendFiles([a, b]);
      assert.deepEqual(
        attachments.map((x) => x.fileId),
        [a.id, b.id],
      );
      const now = ctx().clock.now().getTime();
      for (const [att, bytes] of [
        [attachments[0]!, binary],
        [attachments[1]!, text],
      ] as const) {
        assert.match(att.url, /\/download\?expires=\d+&signature=[A-Za-z0-9_-]+$/);
        const expiresIn = Date.parse(att.urlExpiresAt) - now;
        assert.ok(Math.abs(expiresIn - DOWNLOAD_LINK_TTL_SECONDS * 1000) < 5000, `${expiresIn} ms`);
        const res = await download(ctx(), att.url);
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.rawPayload, bytes);
        assert.equal(res.headers['content-length'], String(bytes.length));
      }
      assert.notEqual(attachments[0]!.url, attachments[1]!.url);
    });

    it('refuses a link that was tampered with: 403, whatever part changed', async () => {
      const a = await upload(ctx(), Buffer.from('first'), 'a.txt', 'text/plain');
      const b = await upload(ctx(), Buffer.from('second'), 'b.txt', 'text/plain');
      const [link] = await sendFiles([a]);
      const url = new URL(link!.url);
      const signature = url.searchParams.get('signature')!;
      const expires = url.searchParams.get('expires')!;
      const flipped = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
      const at = (id: string, query: string) => `${PUBLIC_URL}/api/v1/files/${id}/download${query}`;
      const wrong = {
        'another signature': at(a.id, `?expires=${expires}&signature=${flipped}`),
        'a later expiry': at(a.id, `?expires=${Number(expires) + 3600}&signature=${signature}`),
        'another file': at(b.id, `?expires=${expires}&signature=${signature}`),
        'no signature': at(a.id, `?expires=${expires}`),
        nothing: at(a.id, ''),
      };
      assert.equal((await download(ctx(), link!.url)).statusCode, 200, 'the link as sent works');
      for (const [name, url] of Object.entries(wrong)) {
        const res = await download(ctx(), url);
        assert.equal(res.statusCode, 403, `${name}: ${res.body}`);
        assert.equal(res.json().error.code, 'INVALID_DOWNLOAD_LINK', name);
      }
      // A signature that is not even of the right form is a bad request, naming it.
      const truncated = await download(
        ctx(),
        at(a.id, `?expires=${expires}&signature=${signature.slice(0, -1)}`),
      );
      assert.equal(truncated.statusCode, 400);
      assert.equal(truncated.json().error.details.errors[0].path, 'querystring.signature');
    });

    it('refuses a link once it has expired', async () => {
      const a = await upload(ctx(), Buffer.from('soon gone'), 'a.txt', 'text/plain');
      const [link] = await sendFiles([a]);
      ctx().clock.advance((DOWNLOAD_LINK_TTL_SECONDS - 10) * 1000);
      assert.equal((await download(ctx(), link!.url)).statusCode, 200, 'still valid just before');
      ctx().clock.advance(20_000);
      const late = await download(ctx(), link!.url);
      assert.equal(late.statusCode, 403);
      assert.equal(late.json().error.code, 'DOWNLOAD_LINK_EXPIRED');
    });
  },
  { publicUrl: PUBLIC_URL },
);
