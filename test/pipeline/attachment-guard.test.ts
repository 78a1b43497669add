import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { ATTACHMENT_JOB } from '../../src/pipeline/inbound.ts';
import { ApiCallbackServer } from '../fakes/api-callback.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, unique } from '../helpers/factories.ts';
import { API_SECRET, apiWebhook, clientMessage } from '../helpers/webhooks.ts';

/** A client sends a file at `url` over an api channel; the download job runs; its outcome. */
async function sendFile(ctx: TestContext, callbackUrl: string, url: string) {
  const line = await createLine(ctx);
  const channel = await createChannel(ctx, line.id, 'api', { settings: { secret: API_SECRET, callbackUrl } });
  const res = await apiWebhook(
    ctx,
    channel.id,
    clientMessage(unique('sender'), '', { text: null, attachments: [{ url, name: 'invoice.pdf' }] }),
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  await ctx.platform.worker.drain();
  const [message] = await queryRows<{ id: string; attachments: { fileId: string | null }[] }>(
    ctx.db,
    sql`SELECT id, attachments FROM messages WHERE channel_id = ${channel.id}`,
  );
  const [job] = await queryRows<{ attempts: number; last_error: string | null; failed_at: Date | null }>(
    ctx.db,
    sql`SELECT attempts, last_error, failed_at FROM jobs
        WHERE kind = ${ATTACHMENT_JOB} AND payload->>'messageId' = ${message!.id}`,
  );
  return { attachment: message!.attachments[0]!, job: job! };
}

describeEachDatabase(
  'attachment downloads and the SSRF guard',
  (ctx) => {
    // The channel's callback (its configured host), a file host elsewhere on this machine, and an
    // inner service redirects point at.
    let callback: ApiCallbackServer;
    let files: ApiCallbackServer;
    let inner: ApiCallbackServer;
    before(async () => {
      [callback, files, inner] = await Promise.all([
        ApiCallbackServer.start(),
        ApiCallbackServer.start(),
        ApiCallbackServer.start(),
      ]);
    });
    after(() => Promise.all([callback.close(), files.close(), inner.close()]));

    const port = (s: ApiCallbackServer) => new URL(s.url).port;

    it('does not download from a loopback address, and fails the job for good saying why', async () => {
      const url = files.serveFile(
        `/${unique('secret')}.pdf`,
        Buffer.from('%PDF-1.4 internal'),
        'application/pdf',
      );
      const { attachment, job } = await sendFile(ctx(), callback.url, url);
      assert.equal(attachment.fileId, null, 'nothing stored');
      assert.ok(job.failed_at, 'the job failed');
      assert.equal(job.attempts, 1, 'for good: not retried');
      assert.match(
        job.last_error ?? '',
        new RegExp(`refused to fetch from 127\\.0\\.0\\.1:${port(files)}: a loopback address`),
      );
      assert.equal(files.requests.length, 0, 'the file host was never called');
    });

    it('refuses a redirect to a loopback address, and never calls it', async () => {
      // localhost is allowed in this suite; the 127.0.0.1 it redirects to is not.
      files.answerNext({ status: 302, headers: { location: `${inner.url}/admin` } });
      const { attachment, job } = await sendFile(
        ctx(),
        callback.url,
        `http://localhost:${port(files)}/moved`,
      );
      assert.equal(attachment.fileId, null);
      assert.ok(job.failed_at);
      assert.match(job.last_error ?? '', /refused to fetch from 127\.0\.0\.1:\d+: a loopback address/);
      assert.deepEqual(
        files.requests.map((r) => r.path),
        ['/moved'],
      );
      assert.equal(inner.requests.length, 0, 'the redirect target was never called');
    });

    it('downloads from an allow-listed host and from the channel’s own configured host', async () => {
      const path = `/${unique('ok')}.pdf`;
      files.serveFile(path, Buffer.from('%PDF-1.4 fine'), 'application/pdf');
      const allowed = await sendFile(ctx(), callback.url, `http://localhost:${port(files)}${path}`);
      assert.ok(allowed.attachment.fileId, JSON.stringify(allowed.job));
      const own = callback.serveFile(`/${unique('own')}.pdf`, Buffer.from('%PDF-1.4 own'), 'application/pdf');
      const configured = await sendFile(ctx(), callback.url, own);
      assert.ok(configured.attachment.fileId, JSON.stringify(configured.job));
    });
  },
  { fetchAllowPrivate: ['localhost'] },
);
