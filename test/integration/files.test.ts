import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { ApiCallbackServer } from '../fakes/api-callback.ts';
import { describeEachDatabase, postForm, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, unique } from '../helpers/factories.ts';
import { API_SECRET, apiWebhook, clientMessage } from '../helpers/webhooks.ts';

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from('IHDR'),
]);
const PAGE = Buffer.from('<!DOCTYPE html><html><body><script>steal(document.cookie)</script></body></html>');

async function download(ctx: TestContext, fileId: string) {
  const res = await ctx.app.inject({
    method: 'GET',
    url: `/api/v1/files/${fileId}`,
    headers: { authorization: `Bearer ${ctx.adminToken}` },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res;
}

describeEachDatabase('files: what they are and how they are served', (ctx) => {
  let server: ApiCallbackServer;
  before(async () => {
    server = await ApiCallbackServer.start();
  });
  after(() => server.close());

  /** A client sends `bytes` (served as `served`, declared `declared`); the stored file's id. */
  async function received(bytes: Buffer, served: string, declared: string, name: string) {
    const line = await createLine(ctx());
    const channel = await createChannel(ctx(), line.id, 'api', {
      settings: { secret: API_SECRET, callbackUrl: `${server.url}/inbox` },
    });
    const url = server.serveFile(`/${unique('f')}`, bytes, served);
    await apiWebhook(
      ctx(),
      channel.id,
      clientMessage(unique('c'), '', { text: null, attachments: [{ url, name, mimeType: declared }] }),
    );
    await ctx().platform.worker.drain();
    const [row] = await queryRows<{ attachments: { fileId: string; mimeType: string }[] }>(
      ctx().db,
      sql`SELECT attachments FROM messages WHERE channel_id = ${channel.id}`,
    );
    assert.ok(row!.attachments[0]!.fileId, 'downloaded');
    return row!.attachments[0]!;
  }

  it('stores a "photo" that holds a web page as the page it is, and serves it only as a download', async () => {
    const attachment = await received(PAGE, 'image/png', 'image/png', 'cute cat.png');
    assert.equal(attachment.mimeType, 'text/html');
    const res = await download(ctx(), attachment.fileId);
    assert.equal(res.headers['content-type'], 'text/html');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(
      res.headers['content-disposition'],
      `attachment; filename="cute cat.png"; filename*=UTF-8''cute%20cat.png`,
    );
    assert.match(String(res.headers['content-security-policy']), /sandbox/);
    assert.deepEqual(res.rawPayload, PAGE);
  });

  it('stores an image declared as anything else as the image it is, and shows it inline', async () => {
    const attachment = await received(
      PNG,
      'application/octet-stream',
      'application/octet-stream',
      'фото.png',
    );
    assert.equal(attachment.mimeType, 'image/png');
    const res = await download(ctx(), attachment.fileId);
    assert.equal(res.headers['content-type'], 'image/png');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(
      res.headers['content-disposition'],
      `inline; filename="____.png"; filename*=UTF-8''%D1%84%D0%BE%D1%82%D0%BE.png`,
    );
  });

  it('sniffs uploads too: an SVG sent as a PNG is stored as SVG and never shown inline', async () => {
    const form = new FormData();
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>';
    form.append('file', new Blob([svg], { type: 'image/png' }), 'logo.png');
    const res = await postForm(ctx(), '/api/v1/files', form);
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    const [file] = body.items ?? body;
    assert.equal(file.mimeType, 'image/svg+xml');
    const served = await download(ctx(), file.id);
    assert.equal(served.headers['content-type'], 'image/svg+xml');
    assert.match(String(served.headers['content-disposition']), /^attachment; /);
  });
});
