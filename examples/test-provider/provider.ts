/**
 * The "Test" messenger channel provider: the guide's worked example, as one ChannelProvider.
 * See index.ts for the map from the guide's nine steps to this file.
 *
 * In:  POST /webhooks/test/<channelId> with header `X-Test-Token: <the channel's token>` and a
 *      TestIncomingMessage body (converter.ts). Point the messenger's webhook setting at that URL.
 * Out: POST {apiRoot}/messages (api-client.ts), files uploaded first to POST {apiRoot}/files.
 * Settings: {"token", "apiRoot"} (settings.ts).
 */
import type { Readable } from 'node:stream';
import {
  type ChannelProvider,
  type ExternalUser,
  type OutboundAttachment,
  type ProviderContext,
  ProviderError,
  WebhookRejected,
} from '../../src/providers/provider.ts';
import { headerValue, safeEqual } from '../../src/providers/signature.ts';
import { download, getMe, getProfile, postMessage, type TestApi, uploadFile } from './api-client.ts';
import { convertIncoming, type TestAttachment } from './converter.ts';
import { testSettings, validateTestSettings } from './settings.ts';

/** The provider's name: the registry key, the webhook path segment and the channel type. */
export const TEST_PROVIDER = 'test';
export const TOKEN_HEADER = 'x-test-token';

function apiOf(ctx: ProviderContext): TestApi {
  return { settings: testSettings(ctx.channel.settings), fetch: ctx.fetch };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function upload(api: TestApi, file: OutboundAttachment): Promise<TestAttachment> {
  const data = await readAll(file.open());
  const uploadUrl = await uploadFile(api, data, file.name ?? file.fileId, file.mimeType);
  return { uploadUrl, fileType: file.mimeType };
}

export const testProvider: ChannelProvider = {
  name: TEST_PROVIDER,
  // A channel type of its own: the registry adds it to the types `POST /api/v1/channels` accepts.
  channelType: TEST_PROVIDER,
  publicSettings: ['apiRoot'],
  // `send` passes our message id as the Idempotency-Key: a retried send is never delivered twice.
  idempotentSend: true,

  // Step 2: the settings record of a channel.
  validateSettings: validateTestSettings,

  // Before a reply is stored: a channel that could not deliver it refuses it at once (409).
  canSend(settings) {
    return typeof settings.token === 'string' && settings.token !== ''
      ? null
      : 'the test channel has no token';
  },

  // Step 3: the token is checked and the channel's Source (the page id) learned before it is stored.
  async register(ctx) {
    const me = await getMe(apiOf(ctx));
    ctx.log.info({ channelId: ctx.channel.id, page: me.id }, 'test channel registered');
    return { source: me.id };
  },

  // Step 4: the anonymous webhook. The shared token is checked FIRST, in constant time.
  async parseWebhook(ctx, request) {
    const expected = ctx.channel.settings.token;
    if (typeof expected !== 'string' || expected === '') {
      throw new WebhookRejected('CHANNEL_MISCONFIGURED', 'the test channel has no token');
    }
    const given = headerValue(request.headers, TOKEN_HEADER);
    if (given === undefined || !safeEqual(given, expected)) {
      throw new WebhookRejected('INVALID_TOKEN', 'missing or wrong X-Test-Token');
    }
    // Step 5: the messenger's message becomes the unified message.
    return { events: [convertIncoming(request.rawBody, ctx.channel.source)] };
  },

  // Step 6 (IProfileDataProvider). A failure (or null) does not lose the message: the pipeline
  // still creates the client and contact, named "New contact <channel name>-<sender id>".
  async fetchProfile(ctx, externalUserId): Promise<ExternalUser | null> {
    const profile = await getProfile(apiOf(ctx), externalUserId);
    if (!profile) return null;
    const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
    return {
      externalId: externalUserId,
      firstName: str(profile.first_name),
      lastName: str(profile.last_name),
      avatarUrl: str(profile.photo_url),
    };
  },

  // Step 7 (IAttachmentsLoadWorker): the job worker streams what this opens into the file store.
  loadAttachment(ctx, ref) {
    return download(apiOf(ctx), ref);
  },

  // Step 8 (IOutcomeMessageWorker): the unified message in the messenger's format.
  async send(ctx, message) {
    const api = apiOf(ctx);
    const page = ctx.channel.source;
    if (!page) {
      throw new ProviderError('CHANNEL_MISCONFIGURED', 'the test channel has no page id (Source)', {
        retryable: false,
      });
    }
    const attachments: TestAttachment[] = [];
    for (const file of message.attachments) attachments.push(await upload(api, file));
    const sent = await postMessage(
      api,
      {
        sender: page,
        recipient: message.to.externalId,
        message: message.text,
        timestamp: Date.now(),
        attachments,
      },
      message.id,
    );
    return { externalId: sent.id };
  },
};
