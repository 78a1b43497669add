import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FakeTelegramApi } from './telegram-api.ts';

type Answer = {
  ok: boolean;
  result?: any;
  description?: string;
  error_code?: number;
  parameters?: { retry_after?: number };
};

/** The start of a PNG file declaring width×height (enough for size sniffing). */
function png(width: number, height: number): Buffer {
  const data = Buffer.alloc(40);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(data, 0);
  data.write('IHDR', 12, 'ascii');
  data.writeUInt32BE(width, 16);
  data.writeUInt32BE(height, 20);
  return data;
}

/** A plain node:http server answering every request with `status`, recording what it got. */
async function startReceiver(body: Buffer | string = '') {
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const receiver = { status: 200, received, url: '', close: () => Promise.resolve() };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(receiver.status, { 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return receiver;
}

describe('FakeTelegramApi', () => {
  let api: FakeTelegramApi;
  const url = (method: string) => `${api.apiRoot}/bot${api.token}/${method}`;
  const call = async (method: string, params: object = {}): Promise<{ status: number; body: Answer }> => {
    const res = await fetch(url(method), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(params),
    });
    return { status: res.status, body: (await res.json()) as Answer };
  };
  const updateIds = (body: Answer) => (body.result as { update_id: number }[]).map((u) => u.update_id);
  const pushText = (text: string) => api.pushMessage({ from: { id: 42, first_name: 'Ann' }, text });

  beforeEach(async () => {
    api = await FakeTelegramApi.start();
  });
  afterEach(async () => {
    await api.close();
  });

  it('getMe describes the bot', async () => {
    const { status, body } = await call('getMe');
    assert.equal(status, 200);
    assert.deepEqual(body, {
      ok: true,
      result: {
        id: 123456,
        is_bot: true,
        first_name: 'Test Bot',
        username: 'test_contact_bot',
        can_join_groups: true,
        can_read_all_group_messages: false,
        supports_inline_queries: false,
      },
    });
  });

  describe('getUpdates', () => {
    it('returns pending updates in order and forgets those below a confirming offset', async () => {
      const ids = ['a', 'b', 'c'].map((text) => pushText(text).update_id);
      assert.deepEqual(ids, [10001, 10002, 10003]);
      const first = await call('getUpdates');
      assert.deepEqual(updateIds(first.body), ids);
      assert.equal(first.body.result[0].message.text, 'a');
      assert.equal(first.body.result[0].message.chat.type, 'private');
      assert.deepEqual(updateIds((await call('getUpdates', { offset: 10002 })).body), [10002, 10003]);
      assert.deepEqual(updateIds((await call('getUpdates')).body), [10002, 10003], '10001 is gone for good');
    });

    it('honours limit and a negative offset, which keeps only the last updates', async () => {
      for (const text of ['1', '2', '3', '4', '5']) pushText(text);
      assert.deepEqual(updateIds((await call('getUpdates', { limit: 2 })).body), [10001, 10002]);
      assert.deepEqual(updateIds((await call('getUpdates', { offset: -2 })).body), [10004, 10005]);
      assert.deepEqual(updateIds((await call('getUpdates')).body), [10004, 10005]);
    });

    it('takes its parameters from a query string as strings', async () => {
      for (const text of ['1', '2', '3']) pushText(text);
      const res = await fetch(`${url('getUpdates')}?offset=10002&limit=1`);
      assert.deepEqual(updateIds((await res.json()) as Answer), [10002]);
      assert.deepEqual(api.calls('getUpdates')[0]?.params, { offset: '10002', limit: '1' });
      assert.equal(api.calls('getUpdates')[0]?.httpMethod, 'GET');
    });

    it('holds a long poll until an update is pushed', async () => {
      const started = Date.now();
      const poll = call('getUpdates', { timeout: 30 });
      await api.waitForCall('getUpdates');
      assert.equal(api.polling, true);
      pushText('hello');
      const { body } = await poll;
      assert.equal(body.result[0].message.text, 'hello');
      assert.ok(Date.now() - started < 5000);
      assert.equal(api.polling, false);
    });

    it('ends a long poll with an empty result when its timeout passes', async () => {
      const { body } = await call('getUpdates', { timeout: 1 });
      assert.deepEqual(body, { ok: true, result: [] });
    });

    it('answers 409 to a held long poll when a second one arrives, and serves the newer one', async () => {
      const first = call('getUpdates', { timeout: 30 });
      await api.waitForCall('getUpdates');
      const second = call('getUpdates', { timeout: 30 });
      assert.deepEqual((await first).body, {
        ok: false,
        error_code: 409,
        description:
          'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
      });
      assert.equal((await first).status, 409);
      pushText('for the survivor');
      assert.equal((await second).body.result[0].message.text, 'for the survivor');
    });

    it('is refused with 409 while a webhook is set, and works again after deleteWebhook', async () => {
      const set = await call('setWebhook', { url: 'https://example.invalid/hook' });
      assert.deepEqual(set.body, { ok: true, result: true, description: 'Webhook was set' });
      const refused = await call('getUpdates');
      assert.equal(refused.status, 409);
      assert.equal(
        refused.body.description,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      );
      assert.equal((await call('deleteWebhook')).body.description, 'Webhook was deleted');
      assert.deepEqual((await call('getUpdates')).body, { ok: true, result: [] });
    });
  });

  describe('webhook', () => {
    it('POSTs updates with the secret header and keeps a refused update pending until retried', async () => {
      const receiver = await startReceiver();
      try {
        receiver.status = 500;
        await call('setWebhook', { url: `${receiver.url}/tg`, secret_token: 's3cret_-X' });
        assert.deepEqual(api.webhook(), { url: `${receiver.url}/tg`, secretToken: 's3cret_-X' });
        const { update_id } = pushText('via hook');
        await api.settle();

        assert.equal(receiver.received.length, 1);
        const [delivery] = receiver.received;
        assert.equal(delivery?.headers['x-telegram-bot-api-secret-token'], 's3cret_-X');
        assert.equal(delivery?.headers['content-type'], 'application/json');
        assert.equal(JSON.parse(delivery?.body ?? '').update_id, update_id);
        const info = (await call('getWebhookInfo')).body.result;
        assert.equal(info.pending_update_count, 1);
        assert.equal(info.last_error_message, 'Wrong response from the webhook: 500 Internal Server Error');

        receiver.status = 200;
        assert.equal(await api.deliverPending(), 1);
        assert.equal(receiver.received.length, 2);
        assert.equal(receiver.received[1]?.body, receiver.received[0]?.body);
        assert.equal((await call('getWebhookInfo')).body.result.pending_update_count, 0);
        assert.equal(await api.deliverPending(), 0, 'nothing is left to deliver');
      } finally {
        await receiver.close();
      }
    });

    it('records a refused connection and can retry on its own in automatic mode', async () => {
      const receiver = await startReceiver();
      await receiver.close(); // its port now refuses connections
      api.setWebhookDelivery('immediate', 20);
      await call('setWebhook', { url: receiver.url });
      pushText('lost?');
      await api.settle();
      assert.equal(api.webhookAttempts[0]?.error, 'Connection refused');
      await api.close(); // stops the retry timer
    });
  });

  describe('sending', () => {
    it('sendMessage records its exact params and answers a Message with increasing message_id', async () => {
      const { message_id: incoming } = pushText('hi');
      const first = await call('sendMessage', { chat_id: 42, text: 'Hello, Ann', parse_mode: 'HTML' });
      assert.equal(first.status, 200);
      const { date, ...message } = first.body.result;
      assert.equal(typeof date, 'number');
      assert.deepEqual(message, {
        message_id: incoming + 1,
        from: { id: 123456, is_bot: true, first_name: 'Test Bot', username: 'test_contact_bot' },
        chat: { id: 42, first_name: 'Ann', type: 'private' },
        text: 'Hello, Ann',
      });
      const reply = await call('sendMessage', { chat_id: 42, text: 'again', reply_to_message_id: incoming });
      assert.equal(reply.body.result.message_id, incoming + 2);
      assert.equal(reply.body.result.reply_to_message.text, 'hi');
      assert.deepEqual(api.calls('sendMessage')[0]?.params, {
        chat_id: 42,
        text: 'Hello, Ann',
        parse_mode: 'HTML',
      });
      assert.equal(
        (await call('sendMessage', { chat_id: 42, text: '' })).body.description,
        'Bad Request: message text is empty',
      );
    });

    it('sendMessage accepts an urlencoded form, recorded as strings', async () => {
      const res = await fetch(url('sendMessage'), {
        method: 'POST',
        body: new URLSearchParams({ chat_id: '42', text: 'form text' }),
      });
      const body = (await res.json()) as Answer;
      assert.equal(body.result.chat.id, 42);
      assert.equal(body.result.text, 'form text');
      const recorded = api.calls('sendMessage')[0];
      assert.equal(recorded?.contentType, 'application/x-www-form-urlencoded;charset=UTF-8');
      assert.deepEqual(recorded?.params, { chat_id: '42', text: 'form text' });
    });

    it('sendPhoto takes a multipart upload and records the file', async () => {
      const image = png(640, 480);
      const form = new FormData();
      form.append('chat_id', '42');
      form.append('caption', 'a cat');
      form.append('photo', new Blob([image], { type: 'image/png' }), 'cat.png');
      const res = await fetch(url('sendPhoto'), { method: 'POST', body: form });
      const body = (await res.json()) as Answer;
      assert.equal(res.status, 200);
      assert.equal(body.result.caption, 'a cat');
      assert.equal(body.result.chat.id, 42);
      const [size] = body.result.photo;
      assert.equal(size.width, 640);
      assert.equal(size.height, 480);
      assert.equal(size.file_size, image.length);

      const recorded = api.calls('sendPhoto')[0];
      assert.match(recorded?.contentType ?? '', /^multipart\/form-data; boundary=/);
      assert.deepEqual(recorded?.params, { chat_id: '42', caption: 'a cat' });
      assert.deepEqual(recorded?.files.photo, {
        name: 'cat.png',
        type: 'image/png',
        size: image.length,
        data: image,
      });
    });

    it('sendDocument by URL fetches the document and keeps its name and type', async () => {
      const pdf = Buffer.from('%PDF-1.4 fake');
      const receiver = await startReceiver(pdf);
      try {
        const documentUrl = `${receiver.url}/files/report.pdf`;
        const { status, body } = await call('sendDocument', {
          chat_id: 42,
          document: documentUrl,
          caption: 'Q3',
        });
        assert.equal(status, 200);
        assert.equal(body.result.caption, 'Q3');
        assert.deepEqual(
          { ...body.result.document, file_id: undefined, file_unique_id: undefined },
          {
            file_name: 'report.pdf',
            mime_type: 'application/pdf',
            file_size: pdf.length,
            file_id: undefined,
            file_unique_id: undefined,
          },
        );
        assert.deepEqual(api.calls('sendDocument')[0]?.params, {
          chat_id: 42,
          document: documentUrl,
          caption: 'Q3',
        });
        assert.deepEqual(api.calls('sendDocument')[0]?.files, {});
      } finally {
        await receiver.close();
      }
    });

    it('sendPhoto with an unknown file_id or an unreachable URL is a 400', async () => {
      const unknown = await call('sendPhoto', { chat_id: 42, photo: 'nope' });
      assert.equal(unknown.body.description, 'Bad Request: wrong file identifier/HTTP URL specified');
      const unreachable = await call('sendPhoto', { chat_id: 42, photo: 'http://127.0.0.1:1/x.jpg' });
      assert.equal(unreachable.body.description, 'Bad Request: failed to get HTTP URL content');
      api.setUrlContent('https://cdn.example/cat.png', { data: png(10, 20), mimeType: 'image/png' });
      const preset = await call('sendPhoto', { chat_id: 42, photo: 'https://cdn.example/cat.png' });
      assert.deepEqual([preset.body.result.photo[0].width, preset.body.result.photo[0].height], [10, 20]);
    });

    it('editMessageText answers the edited Message with edit_date', async () => {
      const sent = (await call('sendMessage', { chat_id: 42, text: 'draft' })).body.result;
      const { body } = await call('editMessageText', {
        chat_id: 42,
        message_id: sent.message_id,
        text: 'final',
      });
      assert.equal(body.result.text, 'final');
      assert.equal(body.result.message_id, sent.message_id);
      assert.equal(typeof body.result.edit_date, 'number');
      const missing = await call('editMessageText', { chat_id: 42, message_id: 999, text: 'x' });
      assert.equal(missing.body.description, 'Bad Request: message to edit not found');
    });

    it('sendChatAction answers true for a known action', async () => {
      assert.deepEqual((await call('sendChatAction', { chat_id: 42, action: 'typing' })).body, {
        ok: true,
        result: true,
      });
      assert.equal((await call('sendChatAction', { chat_id: 42, action: 'dance' })).status, 400);
    });
  });

  describe('files and chats', () => {
    it('getFile and the download round-trip the bytes of an upload', async () => {
      const data = Buffer.from('hello, file');
      const form = new FormData();
      form.append('chat_id', '42');
      form.append('document', new Blob([data], { type: 'text/plain' }), 'notes.txt');
      const sent = (await (
        await fetch(url('sendDocument'), { method: 'POST', body: form })
      ).json()) as Answer;
      const { file_id } = sent.result.document;

      const info = (await call('getFile', { file_id })).body.result;
      assert.match(info.file_path, /^documents\/file_\d+\.txt$/);
      assert.equal(info.file_size, data.length);
      const download = await fetch(`${api.apiRoot}/file/bot${api.token}/${info.file_path}`);
      assert.equal(download.status, 200);
      assert.deepEqual(Buffer.from(await download.arrayBuffer()), data);
      assert.deepEqual(api.downloads, [info.file_path]);

      assert.equal((await fetch(`${api.apiRoot}/file/botWRONG/${info.file_path}`)).status, 401);
      assert.equal((await fetch(`${api.apiRoot}/file/bot${api.token}/documents/none.txt`)).status, 404);
      const invalid = await call('getFile', { file_id: 'missing' });
      assert.deepEqual(invalid, {
        status: 400,
        body: { ok: false, error_code: 400, description: 'Bad Request: invalid file_id' },
      });
    });

    it('getChat describes a known chat with its photo and is a 400 for an unknown one', async () => {
      const photo = api.addFile({ data: png(160, 160), filePath: 'photos/avatar.jpg' });
      api.setChat({
        id: 7,
        first_name: 'Bo',
        last_name: 'Lee',
        username: 'bolee',
        photoFileId: photo.file_id,
      });
      const { body } = await call('getChat', { chat_id: 7 });
      assert.deepEqual(body.result, {
        id: 7,
        first_name: 'Bo',
        last_name: 'Lee',
        username: 'bolee',
        type: 'private',
        photo: {
          small_file_id: photo.file_id,
          small_file_unique_id: photo.file_unique_id,
          big_file_id: photo.file_id,
          big_file_unique_id: photo.file_unique_id,
        },
        accent_color_id: 0,
        max_reaction_count: 11,
      });
      const profile = (await call('getUserProfilePhotos', { user_id: 7 })).body.result;
      assert.equal(profile.total_count, 1);
      assert.equal(profile.photos[0][0].file_id, photo.file_id);

      const unknown = await call('getChat', { chat_id: 8 });
      assert.deepEqual(unknown, {
        status: 400,
        body: { ok: false, error_code: 400, description: 'Bad Request: chat not found' },
      });
    });
  });

  describe('errors', () => {
    it('failNext 429 answers retry_after once, then the call succeeds', async () => {
      api.failNext('sendMessage', { status: 429, retryAfter: 7 });
      const limited = await call('sendMessage', { chat_id: 42, text: 'x' });
      assert.deepEqual(limited, {
        status: 429,
        body: {
          ok: false,
          error_code: 429,
          description: 'Too Many Requests: retry after 7',
          parameters: { retry_after: 7 },
        },
      });
      assert.equal((await call('sendMessage', { chat_id: 42, text: 'x' })).status, 200);
      assert.equal(api.calls('sendMessage').length, 2, 'the failed call is recorded too');
    });

    it('failNext 403 defaults to "bot was blocked by the user"', async () => {
      api.failNext('sendMessage', { status: 403 }, 2);
      for (let i = 0; i < 2; i++) {
        const { status, body } = await call('sendMessage', { chat_id: 42, text: 'x' });
        assert.equal(status, 403);
        assert.equal(body.description, 'Forbidden: bot was blocked by the user');
      }
    });

    it('a wrong token is 401 Unauthorized and an unknown method is 404 Not Found', async () => {
      const wrong = await fetch(`${api.apiRoot}/bot999:nope/getMe`);
      assert.equal(wrong.status, 401);
      assert.deepEqual(await wrong.json(), { ok: false, error_code: 401, description: 'Unauthorized' });
      const unknown = await call('sendTelepathy');
      assert.deepEqual(unknown, {
        status: 404,
        body: { ok: false, error_code: 404, description: 'Not Found' },
      });
      assert.equal(api.requests.length, 1, 'the wrong-token call is not recorded');
    });

    it('setLatency delays answers of one method', async () => {
      api.setLatency('getMe', 150);
      const started = Date.now();
      await call('getMe');
      assert.ok(Date.now() - started >= 140);
    });
  });

  it('close answers a held long poll with an empty result', async () => {
    const poll = call('getUpdates', { timeout: 30 });
    await api.waitForCall('getUpdates');
    await api.close();
    assert.deepEqual((await poll).body, { ok: true, result: [] });
  });
});
