import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { InvalidField } from '../../src/errors.ts';
import {
  type InboundEvent,
  type OutboundAttachment,
  type OutboundMessage,
  type ProviderContext,
  ProviderError,
  WebhookRejected,
  type WebhookRequest,
} from '../../src/providers/provider.ts';
import { telegramBotProvider as provider } from '../../src/providers/telegram/telegram.provider.ts';
import { FakeTelegramApi } from '../fakes/telegram-api.ts';

const CHANNEL_ID = '0b7f3c52-4a1e-4f0e-9d6b-3f5c2a9e8d11';
const SECRET = 'stored_secret-0123456789abcdefABCDEF';
const ANN = { id: 111, first_name: 'Ann', last_name: 'Lee', username: 'ann' };
/** A Telegram `from` / private `chat` for Ann, as the Bot API sends them. */
const ANN_FROM = { ...ANN, is_bot: false, language_code: 'en' };
const ANN_CHAT = { id: 111, first_name: 'Ann', last_name: 'Lee', username: 'ann', type: 'private' };
const ANN_USER = { externalId: '111', username: 'ann', firstName: 'Ann', lastName: 'Lee' };

/** The start of a PNG file (the fake sniffs width and height from it). */
function png(width: number, height: number): Buffer {
  const data = Buffer.alloc(64, 7);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(data, 0);
  data.write('IHDR', 12, 'ascii');
  data.writeUInt32BE(width, 16);
  data.writeUInt32BE(height, 20);
  return data;
}

function attachment(
  data: Buffer,
  name: string | null,
  mimeType: string,
  size = data.length,
): OutboundAttachment {
  return {
    fileId: `file-${name}`,
    name,
    mimeType,
    size,
    url: `http://omniline.test/api/v1/files/file-${name}/download`,
    urlExpiresAt: new Date(0),
    open: () => Readable.from([data]),
  };
}

function outbound(fields: Partial<OutboundMessage> = {}): OutboundMessage {
  return {
    id: 'msg-1',
    to: { externalId: '111' },
    type: 'text',
    text: 'Hello, Ann',
    attachments: [],
    sender: { type: 'operator', id: 'op-1', name: 'Olga' },
    ...fields,
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Asserts a ProviderError with this code (and these opts, when given). */
function providerError(code: string, opts: Partial<ProviderError['opts']> = {}) {
  return (err: unknown) => {
    assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const [key, value] of Object.entries(opts))
      assert.equal(err.opts[key as keyof typeof opts], value, key);
    return true;
  };
}

/** A local HTTP server standing in for our webhook endpoint: records what the fake POSTs. */
async function startWebhookReceiver() {
  const received: { url: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
    res.writeHead(200).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('telegramBot provider', () => {
  let fake: FakeTelegramApi;
  const ctxFor = (
    settings: Record<string, unknown> = {},
    publicUrl: string | null = 'http://omniline.test',
  ) =>
    ({
      channel: {
        id: CHANNEL_ID,
        name: 'Support bot',
        type: 'telegramBot',
        source: null,
        settings: { token: fake.token, mode: 'polling', apiRoot: fake.apiRoot, ...settings },
      },
      publicUrl,
      fetch,
      log: { info() {}, warn() {} },
    }) satisfies ProviderContext;
  const webhookRequest = (body: string | object, secret?: string): WebhookRequest => ({
    method: 'POST',
    url: `/webhooks/telegramBot/${CHANNEL_ID}`,
    headers: {
      'content-type': 'application/json',
      ...(secret === undefined ? {} : { 'x-telegram-bot-api-secret-token': secret }),
    },
    query: {},
    rawBody: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  });
  /** Converts one real Update through the webhook path (the same converter as polling). */
  const convert = async (update: object): Promise<InboundEvent[]> =>
    (await provider.parseWebhook!(ctxFor({ webhookSecret: SECRET }), webhookRequest(update, SECRET))).events;

  beforeEach(async () => {
    fake = await FakeTelegramApi.start();
  });
  afterEach(async () => {
    await fake.close();
  });

  describe('settings', () => {
    it('fills in polling mode and the public API root, keeps a webhook secret and drops unknown keys', () => {
      assert.deepEqual(
        provider.validateSettings({ token: '123456:TEST-token', webhookSecret: 'abc_DEF-1', x: 1 }),
        {
          token: '123456:TEST-token',
          mode: 'polling',
          apiRoot: 'https://api.telegram.org',
          webhookSecret: 'abc_DEF-1',
        },
      );
      assert.deepEqual(
        provider.validateSettings({ token: '1:AA', mode: 'webhook', apiRoot: 'http://127.0.0.1:8081' }),
        { token: '1:AA', mode: 'webhook', apiRoot: 'http://127.0.0.1:8081' },
      );
    });

    it('names the wrong setting in an InvalidField', () => {
      const cases: [Record<string, unknown>, string][] = [
        [{}, 'settings.token'],
        [{ token: 'not a token' }, 'settings.token'],
        [{ token: '1:AA', mode: 'push' }, 'settings.mode'],
        [{ token: '1:AA', apiRoot: 'ftp://api.telegram.org' }, 'settings.apiRoot'],
        [{ token: '1:AA', apiRoot: 'https://api.telegram.org/' }, 'settings.apiRoot'],
        [{ token: '1:AA', apiRoot: 'not a url' }, 'settings.apiRoot'],
        [{ token: '1:AA', webhookSecret: 'has spaces' }, 'settings.webhookSecret'],
      ];
      for (const [settings, path] of cases) {
        assert.throws(
          () => provider.validateSettings(settings),
          (err: unknown) => err instanceof InvalidField && err.message.startsWith(`${path}:`),
          JSON.stringify(settings),
        );
      }
    });

    it('reads polling channels by polling and webhook channels not', () => {
      const channel = ctxFor().channel;
      assert.equal(provider.polls!(channel), true);
      assert.equal(
        provider.polls!({ ...channel, settings: { ...channel.settings, mode: 'webhook' } }),
        false,
      );
    });
  });

  describe('register', () => {
    it('in polling mode learns the bot id from getMe and deletes any webhook', async () => {
      const result = await provider.register!(ctxFor());
      assert.deepEqual(result, { source: '123456', settings: { webhookSecret: null } });
      assert.equal(fake.calls('getMe').length, 1);
      assert.deepEqual(fake.calls('deleteWebhook')[0]?.params, {});
      assert.equal(fake.calls('setWebhook').length, 0);
    });

    it('in webhook mode sets the webhook with a generated secret that it returns to be stored', async () => {
      const result = await provider.register!(ctxFor({ mode: 'webhook' }));
      const secret = result.settings?.webhookSecret;
      assert.equal(typeof secret, 'string');
      assert.match(secret as string, /^[A-Za-z0-9_-]{32,256}$/);
      assert.equal(result.source, '123456');
      assert.deepEqual(fake.calls('setWebhook')[0]?.params, {
        url: `http://omniline.test/webhooks/telegramBot/${CHANNEL_ID}`,
        secret_token: secret,
        allowed_updates: ['message', 'edited_message', 'my_chat_member'],
      });
      assert.deepEqual(fake.webhook(), {
        url: `http://omniline.test/webhooks/telegramBot/${CHANNEL_ID}`,
        secretToken: secret,
      });
      const again = await provider.register!(ctxFor({ mode: 'webhook' }));
      assert.notEqual(again.settings?.webhookSecret, secret, 'every generated secret is new');
    });

    it('in webhook mode keeps a secret the settings already have', async () => {
      const result = await provider.register!(ctxFor({ mode: 'webhook', webhookSecret: SECRET }));
      assert.deepEqual(result.settings, { webhookSecret: SECRET });
      assert.equal(fake.calls('setWebhook')[0]?.params.secret_token, SECRET);
    });

    it('in webhook mode needs a public URL', async () => {
      await assert.rejects(
        provider.register!(ctxFor({ mode: 'webhook' }, null)),
        providerError('PUBLIC_URL_REQUIRED'),
      );
      assert.equal(fake.calls('setWebhook').length, 0);
    });

    it('refuses a token Telegram does not accept as INVALID_CREDENTIALS, not retryable', async () => {
      await assert.rejects(
        provider.register!(ctxFor({ token: '999:wrong-token' })),
        providerError('INVALID_CREDENTIALS', { retryable: false }),
      );
      assert.equal(fake.calls('deleteWebhook').length, 0);
    });

    it('unregister deletes the webhook of a webhook channel', async () => {
      const { settings } = await provider.register!(ctxFor({ mode: 'webhook' }));
      await provider.unregister!(ctxFor({ mode: 'webhook', ...settings }));
      assert.equal(fake.webhook(), null);
      assert.equal(fake.calls('deleteWebhook').length, 1);
      await provider.unregister!(ctxFor());
      assert.equal(fake.calls('deleteWebhook').length, 1, 'a polling channel has no webhook to delete');
    });
  });

  describe('parseWebhook', () => {
    it('accepts an update the fake delivers with the registered secret header', async () => {
      const receiver = await startWebhookReceiver();
      try {
        const { settings } = await provider.register!(ctxFor({ mode: 'webhook' }, receiver.url));
        const ctx = ctxFor({ mode: 'webhook', ...settings }, receiver.url);
        const { message_id } = fake.pushMessage({ from: ANN, text: 'hi via hook' });
        await fake.settle();
        const [delivery] = receiver.received;
        assert.ok(delivery);
        assert.equal(delivery.url, `/webhooks/telegramBot/${CHANNEL_ID}`);
        const request: WebhookRequest = {
          method: 'POST',
          url: delivery.url,
          headers: delivery.headers,
          query: {},
          rawBody: delivery.body,
        };
        const { events } = await provider.parseWebhook!(ctx, request);
        assert.equal(events.length, 1);
        const [event] = events;
        assert.equal(event?.kind, 'message');
        assert.equal(event.kind === 'message' && event.text, 'hi via hook');
        assert.equal(event.kind === 'message' && event.externalMessageId, `111:${message_id}`);
      } finally {
        await receiver.close();
      }
    });

    it('rejects a missing or wrong secret with WebhookRejected before looking at the body', async () => {
      const ctx = ctxFor({ mode: 'webhook', webhookSecret: SECRET });
      for (const secret of [undefined, 'wrong', `${SECRET}x`, '']) {
        await assert.rejects(
          provider.parseWebhook!(ctx, webhookRequest('{not json', secret)),
          (err: unknown) => err instanceof WebhookRejected && err.code === 'INVALID_SECRET_TOKEN',
          String(secret),
        );
      }
    });

    it('rejects every webhook of a channel that has no stored secret', async () => {
      await assert.rejects(
        provider.parseWebhook!(ctxFor(), webhookRequest({ update_id: 1 }, '')),
        (err: unknown) => err instanceof WebhookRejected,
      );
    });

    it('with the right secret refuses a body that is not JSON or not an Update', async () => {
      const ctx = ctxFor({ webhookSecret: SECRET });
      const cases: [string, string][] = [
        ['{not json', 'INVALID_JSON'],
        ['[1,2]', 'INVALID_PAYLOAD'],
        ['{"message":{}}', 'INVALID_PAYLOAD'],
      ];
      for (const [body, code] of cases) {
        await assert.rejects(
          provider.parseWebhook!(ctx, webhookRequest(body, SECRET)),
          (err: unknown) => err instanceof InvalidField && err.code === code,
          body,
        );
      }
    });
  });

  describe('converting updates', () => {
    const message = (fields: object, id = 42) => ({
      update_id: 10001,
      message: { message_id: id, from: ANN_FROM, chat: ANN_CHAT, date: 1700000000, ...fields },
    });
    const at = new Date(1700000000 * 1000);

    it('turns a text message into a text event keyed by chat and message id', async () => {
      assert.deepEqual(await convert(message({ text: 'hi' })), [
        {
          kind: 'message',
          externalMessageId: '111:42',
          from: ANN_USER,
          type: 'text',
          text: 'hi',
          attachments: [],
          timestamp: at,
        },
      ]);
    });

    it('takes the largest size of a photo, with the caption as text', async () => {
      const size = (n: number, w: number, h: number, bytes: number) => ({
        file_id: `AgACAgIAAxkBAAIC${n}`,
        file_unique_id: `AQADx${n}`,
        width: w,
        height: h,
        file_size: bytes,
      });
      const photo = [size(1, 90, 67, 1254), size(3, 1280, 960, 98711), size(2, 320, 240, 15302)];
      const [event] = await convert(message({ photo, caption: 'my cat' }));
      assert.deepEqual(event, {
        kind: 'message',
        externalMessageId: '111:42',
        from: ANN_USER,
        type: 'image',
        text: 'my cat',
        attachments: [{ ref: 'AgACAgIAAxkBAAIC3', name: null, mimeType: 'image/jpeg', size: 98711 }],
        timestamp: at,
      });
    });

    it('maps documents, voice, audio, video and video notes to file, audio and video', async () => {
      const base = { file_unique_id: 'AgADu', file_size: 52344 };
      const cases: [object, string, object][] = [
        [
          {
            document: {
              ...base,
              file_id: 'BQAC-doc',
              file_name: 'invoice.pdf',
              mime_type: 'application/pdf',
            },
          },
          'file',
          { ref: 'BQAC-doc', name: 'invoice.pdf', mimeType: 'application/pdf', size: 52344 },
        ],
        [
          { voice: { ...base, file_id: 'AwAC-voice', duration: 3, mime_type: 'audio/ogg' } },
          'audio',
          { ref: 'AwAC-voice', name: null, mimeType: 'audio/ogg', size: 52344 },
        ],
        [
          {
            audio: {
              ...base,
              file_id: 'CQAC-song',
              duration: 200,
              file_name: 'song.mp3',
              mime_type: 'audio/mpeg',
            },
          },
          'audio',
          { ref: 'CQAC-song', name: 'song.mp3', mimeType: 'audio/mpeg', size: 52344 },
        ],
        [
          {
            video: {
              ...base,
              file_id: 'BAAC-video',
              width: 640,
              height: 360,
              duration: 5,
              mime_type: 'video/mp4',
            },
          },
          'video',
          { ref: 'BAAC-video', name: null, mimeType: 'video/mp4', size: 52344 },
        ],
        [
          { video_note: { ...base, file_id: 'DQAC-note', length: 240, duration: 4 } },
          'video',
          { ref: 'DQAC-note', name: null, mimeType: 'video/mp4', size: 52344 },
        ],
      ];
      for (const [fields, type, attachment] of cases) {
        const [event] = await convert(message(fields));
        assert.equal(event?.kind, 'message');
        if (event?.kind !== 'message') continue;
        assert.equal(event.type, type, JSON.stringify(fields));
        assert.equal(event.text, null);
        assert.deepEqual(event.attachments, [attachment]);
      }
    });

    it('turns a sticker into an image of its file with the emoji as text', async () => {
      const sticker = {
        file_id: 'CAAC-sticker',
        file_unique_id: 'AgADs',
        type: 'regular',
        width: 512,
        height: 512,
        is_animated: false,
        is_video: false,
        emoji: '👍',
        file_size: 23000,
      };
      const [event] = await convert(message({ sticker }));
      assert.equal(event?.kind === 'message' && event.type, 'image');
      assert.equal(event?.kind === 'message' && event.text, '👍');
      assert.deepEqual(event?.kind === 'message' && event.attachments, [
        { ref: 'CAAC-sticker', name: null, mimeType: 'image/webp', size: 23000 },
      ]);
    });

    it('writes a location as "latitude,longitude" and a contact as its name and phone', async () => {
      const [location] = await convert(message({ location: { latitude: 52.520008, longitude: 13.404954 } }));
      assert.equal(location?.kind === 'message' && location.type, 'location');
      assert.equal(location?.kind === 'message' && location.text, '52.520008,13.404954');
      const contact = { phone_number: '+4915112345678', first_name: 'Bob', last_name: 'Smith', user_id: 222 };
      const [event] = await convert(message({ contact }));
      assert.equal(event?.kind === 'message' && event.type, 'contact');
      assert.equal(event?.kind === 'message' && event.text, 'Bob Smith, +4915112345678');
    });

    it('keys a group message by the group chat and describes its sender', async () => {
      const group = { id: -1001234567890, title: 'Support group', type: 'supergroup' };
      const [event] = await convert(message({ chat: group, text: 'hello group' }, 7));
      assert.equal(event?.kind === 'message' && event.externalMessageId, '-1001234567890:7');
      assert.deepEqual(event?.kind === 'message' && event.from, ANN_USER);
    });

    it('turns an edited_message into an edited event timed by edit_date', async () => {
      const update = {
        update_id: 10002,
        edited_message: {
          message_id: 42,
          from: ANN_FROM,
          chat: ANN_CHAT,
          date: 1700000000,
          edit_date: 1700000100,
          text: 'hi there',
        },
      };
      assert.deepEqual(await convert(update), [
        {
          kind: 'edited',
          externalMessageId: '111:42',
          from: ANN_USER,
          text: 'hi there',
          timestamp: new Date(1700000100 * 1000),
        },
      ]);
    });

    it('turns the user blocking the bot (my_chat_member kicked, private chat) into a closed event', async () => {
      const BOT = { id: 123456, is_bot: true, first_name: 'Omni', username: 'omni_bot' };
      const member = (status: string, chat: object = ANN_CHAT) => ({
        update_id: 10002,
        my_chat_member: {
          chat,
          from: ANN_FROM,
          date: 1700000000,
          old_chat_member: { user: BOT, status: 'member' },
          new_chat_member: { user: BOT, status, ...(status === 'kicked' && { until_date: 0 }) },
        },
      });
      assert.deepEqual(await convert(member('kicked')), [
        { kind: 'closed', from: ANN_USER, reason: 'blocked the bot', timestamp: at },
      ]);
      // Unblocking is no end of a conversation; neither is leaving a group (groups are not routed).
      const [unblocked] = await convert(member('member'));
      assert.equal(unblocked?.kind, 'unsupported');
      const [group] = await convert(member('kicked', { id: -100, title: 'Team', type: 'group' }));
      assert.equal(group?.kind, 'unsupported');
    });

    it('reports polls, service messages and other update kinds as unsupported without throwing', async () => {
      const poll = { id: '5', question: 'Lunch?', options: [], total_voter_count: 0, is_closed: false };
      const [pollEvent] = await convert(message({ poll }));
      assert.deepEqual(pollEvent, {
        kind: 'unsupported',
        from: ANN_USER,
        description: 'Telegram message with poll',
        timestamp: at,
      });
      const [service] = await convert(message({ new_chat_title: 'Renamed' }));
      assert.equal(service?.kind, 'unsupported');
      const callback = {
        update_id: 10003,
        callback_query: { id: '4382', from: ANN_FROM, chat_instance: '-8', data: 'yes' },
      };
      const [event] = await convert(callback);
      assert.equal(event?.kind, 'unsupported');
      assert.equal(
        event?.kind === 'unsupported' && event.description,
        'unsupported Telegram update: callback_query',
      );
      assert.deepEqual(event?.kind === 'unsupported' && event.from, ANN_USER);
    });
  });

  describe('poll', () => {
    it('returns the events and the next offset, which confirms them on the next poll', async () => {
      const ctx = ctxFor();
      fake.pushMessage({ from: ANN, text: 'one' });
      const { update_id: second } = fake.pushMessage({ from: ANN, text: 'two' });
      const first = await provider.poll!(ctx, null, new AbortController().signal);
      assert.deepEqual(
        first.events.map((e) => e.kind === 'message' && e.text),
        ['one', 'two'],
      );
      assert.equal(first.cursor, String(second + 1));
      assert.deepEqual(fake.calls('getUpdates')[0]?.params, {
        timeout: 25,
        limit: 100,
        allowed_updates: ['message', 'edited_message', 'my_chat_member'],
      });
      assert.equal(fake.pendingUpdates().length, 2, 'nothing is confirmed before the next poll');

      const next = provider.poll!(ctx, first.cursor, new AbortController().signal);
      await fake.waitForCall('getUpdates', 2);
      assert.deepEqual(fake.calls('getUpdates')[1]?.params, {
        offset: second + 1,
        timeout: 25,
        limit: 100,
        allowed_updates: ['message', 'edited_message', 'my_chat_member'],
      });
      assert.deepEqual(fake.pendingUpdates(), [], 'the offset confirmed both updates');
      const { update_id: third } = fake.pushMessage({ from: ANN, text: 'three' });
      const result = await next;
      assert.deepEqual(
        result.events.map((e) => e.kind === 'message' && e.text),
        ['three'],
      );
      assert.equal(result.cursor, String(third + 1));
    });

    it('keeps the cursor when a long poll ends without updates', async () => {
      const controller = new AbortController();
      const pending = provider.poll!(ctxFor(), '10005', controller.signal);
      await fake.waitForCall('getUpdates');
      await fake.close(); // ends the held poll with an empty result
      assert.deepEqual(await pending, { events: [], cursor: '10005' });
    });

    it('stops a held long poll when its signal aborts', async () => {
      const controller = new AbortController();
      const pending = provider.poll!(ctxFor(), null, controller.signal);
      await fake.waitForCall('getUpdates');
      controller.abort();
      await assert.rejects(pending, ProviderError);
    });

    it('classifies a 409 (a webhook is set) as a retryable POLL_CONFLICT', async () => {
      await provider.register!(ctxFor({ mode: 'webhook' }));
      await assert.rejects(
        provider.poll!(ctxFor(), null, new AbortController().signal),
        providerError('POLL_CONFLICT', { retryable: true, retryAfterMs: 1000 }),
      );
    });

    it('classifies a 401 as INVALID_CREDENTIALS, not retryable', async () => {
      await assert.rejects(
        provider.poll!(ctxFor({ token: '42:revoked' }), null, new AbortController().signal),
        providerError('INVALID_CREDENTIALS', { retryable: false }),
      );
    });

    it('gives a photo ref that loadAttachment downloads', async () => {
      const bytes = png(800, 600);
      const file = fake.addFile({ data: bytes, filePath: 'photos/file_0.jpg', mimeType: 'image/jpeg' });
      const { file_path: _, ...size } = file;
      fake.pushMessage({ from: ANN, photo: [{ ...size, width: 800, height: 600 }], caption: 'look' });
      const { events } = await provider.poll!(ctxFor(), null, new AbortController().signal);
      const [event] = events;
      assert.equal(event?.kind === 'message' && event.type, 'image');
      const ref = event?.kind === 'message' ? event.attachments?.[0]?.ref : undefined;
      assert.equal(ref, file.file_id);
      const loaded = await provider.loadAttachment!(ctxFor(), ref as string);
      assert.deepEqual(await readAll(loaded.stream), bytes);
    });
  });

  describe('send', () => {
    it('sends text by sendMessage with exactly chat_id and text, answering <chat>:<message_id>', async () => {
      const result = await provider.send(ctxFor(), outbound());
      assert.deepEqual(result, { externalId: '111:1' });
      const [call] = fake.calls('sendMessage');
      assert.deepEqual(call?.params, { chat_id: 111, text: 'Hello, Ann' });
      assert.equal(call?.contentType, 'application/json');
    });

    it('uploads an image by multipart sendPhoto with the text as caption', async () => {
      const bytes = png(640, 480);
      const message = outbound({
        type: 'image',
        text: 'look',
        attachments: [attachment(bytes, 'cat.png', 'image/png')],
      });
      const result = await provider.send(ctxFor(), message);
      assert.deepEqual(result, { externalId: '111:1' });
      const [call] = fake.calls('sendPhoto');
      assert.match(call?.contentType ?? '', /^multipart\/form-data; boundary=/);
      assert.deepEqual(call?.params, { chat_id: '111', caption: 'look' });
      assert.equal(call?.files.photo?.name, 'cat.png');
      assert.equal(call?.files.photo?.type, 'image/png');
      assert.deepEqual(call?.files.photo?.data, bytes);
      assert.equal(fake.calls('sendMessage').length, 0);
    });

    it('uploads other files by sendDocument, each further attachment in its own message', async () => {
      const pdf = Buffer.from('%PDF-1.7 invoice');
      const bytes = png(10, 10);
      const message = outbound({
        type: 'file',
        text: 'your invoice',
        attachments: [
          attachment(pdf, 'invoice.pdf', 'application/pdf'),
          attachment(bytes, 'stamp.png', 'image/png'),
        ],
      });
      const result = await provider.send(ctxFor(), message);
      assert.deepEqual(result, { externalId: '111:1' }, 'the first message sent');
      const [document] = fake.calls('sendDocument');
      assert.deepEqual(document?.params, { chat_id: '111', caption: 'your invoice' });
      assert.deepEqual(document?.files.document?.data, pdf);
      assert.equal(document?.files.document?.name, 'invoice.pdf');
      const [photo] = fake.calls('sendPhoto');
      assert.deepEqual(photo?.params, { chat_id: '111' }, 'the caption goes on the first only');
      assert.deepEqual(photo?.files.photo?.data, bytes);
      assert.deepEqual(
        fake.requests.map((r) => r.method),
        ['sendDocument', 'sendPhoto'],
      );
    });

    it('sends a text too long for a caption as its own message before the attachment', async () => {
      const text = 'x'.repeat(1500);
      const message = outbound({ text, attachments: [attachment(png(5, 5), 'a.png', 'image/png')] });
      assert.deepEqual(await provider.send(ctxFor(), message), { externalId: '111:1' });
      assert.deepEqual(fake.calls('sendMessage')[0]?.params, { chat_id: 111, text });
      assert.deepEqual(fake.calls('sendPhoto')[0]?.params, { chat_id: '111' });
    });

    it('refuses an attachment over 50 MB as FILE_TOO_LARGE without calling Telegram', async () => {
      const big = attachment(Buffer.alloc(1), 'huge.bin', 'application/octet-stream', 51 * 1024 * 1024);
      await assert.rejects(
        provider.send(ctxFor(), outbound({ attachments: [big] })),
        providerError('FILE_TOO_LARGE', { retryable: false }),
      );
      assert.equal(fake.requests.length, 0);
    });

    it('makes a 429 retryable after the retry_after Telegram gives', async () => {
      fake.failNext('sendMessage', { status: 429, retryAfter: 7 });
      await assert.rejects(
        provider.send(ctxFor(), outbound()),
        providerError('RATE_LIMITED', { retryable: true, retryAfterMs: 7000, status: 429 }),
      );
    });

    it('marks the client unreachable when the user blocked the bot or is deactivated', async () => {
      fake.failNext('sendMessage', { status: 403 }); // "Forbidden: bot was blocked by the user"
      fake.failNext('sendMessage', { status: 403, description: 'Forbidden: user is deactivated' });
      for (let i = 0; i < 2; i++) {
        await assert.rejects(
          provider.send(ctxFor(), outbound()),
          providerError('CLIENT_UNREACHABLE', { retryable: false, clientUnreachable: true }),
        );
      }
    });

    it('fails other 4xx for good and retries 5xx and network failures', async () => {
      fake.failNext('sendMessage', { status: 400, description: 'Bad Request: chat not found' });
      await assert.rejects(
        provider.send(ctxFor(), outbound()),
        providerError('REJECTED', { retryable: false }),
      );
      fake.failNext('sendMessage', { status: 500 });
      await assert.rejects(
        provider.send(ctxFor(), outbound()),
        providerError('UPSTREAM_ERROR', { retryable: true, status: 500 }),
      );
      fake.failNext('sendPhoto', { status: 502 });
      const photo = outbound({ attachments: [attachment(png(5, 5), 'a.png', 'image/png')] });
      await assert.rejects(
        provider.send(ctxFor(), photo),
        providerError('UPSTREAM_ERROR', { retryable: true }),
      );
    });

    it('never puts the token into an error message', async () => {
      const leaky: typeof fetch = async (input) => {
        throw new TypeError(`fetch failed: connect ECONNREFUSED for ${String(input)}`);
      };
      const ctx = { ...ctxFor(), fetch: leaky };
      await assert.rejects(provider.send(ctx, outbound()), (err: unknown) => {
        assert.ok(err instanceof ProviderError);
        assert.equal(err.code, 'NETWORK');
        assert.equal(err.retryable, true);
        assert.ok(!err.message.includes(fake.token), err.message);
        assert.ok(!err.message.includes('TEST-token'), err.message);
        assert.match(err.message, /bot<token>\/sendMessage/);
        return true;
      });
    });
  });

  describe('edit', () => {
    it('edits by editMessageText with the chat and message id of the externalId', async () => {
      const { externalId } = await provider.send(ctxFor(), outbound());
      await provider.edit!(ctxFor(), { ...outbound({ text: 'Hello again, Ann' }), externalId });
      assert.deepEqual(fake.calls('editMessageText')[0]?.params, {
        chat_id: 111,
        message_id: 1,
        text: 'Hello again, Ann',
      });
    });

    it('treats "message is not modified" (a repeated edit) as done', async () => {
      const { externalId } = await provider.send(ctxFor(), outbound());
      await provider.edit!(ctxFor(), { ...outbound(), externalId });
      assert.equal(fake.calls('editMessageText').length, 1);
    });

    it('fails an edit of an unknown message for good', async () => {
      await assert.rejects(
        provider.edit!(ctxFor(), { ...outbound(), externalId: '111:999' }),
        providerError('REJECTED', { retryable: false }),
      );
    });
  });

  describe('fetchProfile', () => {
    it('describes a known chat by getChat', async () => {
      fake.setChat({ id: 222, first_name: 'Bob', last_name: 'Smith', username: 'bobs' });
      assert.deepEqual(await provider.fetchProfile!(ctxFor(), '222'), {
        externalId: '222',
        username: 'bobs',
        firstName: 'Bob',
        lastName: 'Smith',
        avatarUrl: null,
      });
      assert.deepEqual(fake.calls('getChat')[0]?.params, { chat_id: 222 });
    });

    it('answers null for an unknown chat and throws on a server error', async () => {
      assert.equal(await provider.fetchProfile!(ctxFor(), '404404'), null);
      fake.failNext('getChat', { status: 500 });
      await assert.rejects(provider.fetchProfile!(ctxFor(), '222'), providerError('UPSTREAM_ERROR'));
    });
  });

  describe('loadAttachment', () => {
    it('finds the file by getFile and streams its bytes with name, type and size', async () => {
      const data = Buffer.from('%PDF-1.7 report body');
      const file = fake.addFile({ data, fileName: 'report.pdf', mimeType: 'application/pdf' });
      const loaded = await provider.loadAttachment!(ctxFor(), file.file_id);
      assert.deepEqual(fake.calls('getFile')[0]?.params, { file_id: file.file_id });
      assert.deepEqual(await readAll(loaded.stream), data);
      assert.equal(loaded.name, file.file_path.split('/').pop());
      assert.equal(loaded.mimeType, 'application/pdf');
      assert.equal(loaded.size, data.length);
      assert.deepEqual(fake.downloads, [file.file_path]);
    });

    it('guesses the type from the extension when the download does not say', async () => {
      const data = Buffer.from('OggS voice');
      const file = fake.addFile({ data, filePath: 'voice/file_9.oga' });
      const loaded = await provider.loadAttachment!(ctxFor(), file.file_id);
      assert.equal(loaded.mimeType, 'audio/ogg');
      assert.equal(loaded.name, 'file_9.oga');
      assert.deepEqual(await readAll(loaded.stream), data);
    });

    it('refuses a file over the 20 MB download cap without downloading it', async () => {
      const file = fake.addFile({ data: Buffer.alloc(20 * 1024 * 1024 + 1), fileName: 'big.zip' });
      await assert.rejects(
        provider.loadAttachment!(ctxFor(), file.file_id),
        providerError('FILE_TOO_LARGE', { retryable: false }),
      );
      assert.deepEqual(fake.downloads, []);
    });

    it('fails the stream once a download passes 20 MB when Telegram gave no size', async () => {
      const file = fake.addFile({ data: Buffer.alloc(20 * 1024 * 1024 + 10), fileName: 'big.zip' });
      // A server that states no sizes: getFile without file_size, a download without content-length.
      const sizeless: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        if (String(input).includes('/file/bot')) return new Response(res.body, { status: res.status });
        const body = (await res.json()) as { result: Record<string, unknown> };
        delete body.result.file_size;
        return Response.json(body, { status: res.status });
      };
      const loaded = await provider.loadAttachment!({ ...ctxFor(), fetch: sizeless }, file.file_id);
      assert.equal(loaded.size, null);
      await assert.rejects(readAll(loaded.stream), providerError('FILE_TOO_LARGE'));
    });

    it('fails an unknown file id for good and a failed download as retryable', async () => {
      await assert.rejects(
        provider.loadAttachment!(ctxFor(), 'nope'),
        providerError('REJECTED', { retryable: false }),
      );
      const file = fake.addFile({ data: Buffer.from('x'), fileName: 'x.txt' });
      fake.failNext('download', { status: 502 });
      await assert.rejects(
        provider.loadAttachment!(ctxFor(), file.file_id),
        providerError('UPSTREAM_ERROR', { retryable: true }),
      );
    });
  });
});
