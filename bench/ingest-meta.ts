/**
 * The Meta providers of `bench/ingest.ts --provider`: whatsappCloud, messenger and instagram, each a
 * channel registered against the local Graph API fake (test/fakes/meta-graph-api.ts), fed text
 * webhooks in Meta's envelopes, signed by the fake's X-Hub-Signature-256 (HMAC-SHA256 of the raw
 * body with the app secret) — the same builders and signing the provider tests use.
 */

import {
  FakeMetaGraphApi,
  IG_ACCOUNT_ID,
  messagingWebhook,
  PAGE_ID,
  PHONE_NUMBER_ID,
  WABA_ID,
  whatsappWebhook,
} from '../test/fakes/meta-graph-api.ts';
import { APP_SECRET, VERIFY_TOKEN } from '../test/providers/meta-helpers.ts';
import type { IngestProvider, IngestWebhook } from './ingest-providers.ts';
import { createIngestChannel, roundRobin } from './lib/ingest-channel.ts';

function signed(body: unknown, ids: string[]): IngestWebhook {
  const { raw, headers } = FakeMetaGraphApi.signed(APP_SECRET, body);
  return { body: raw, headers, ids };
}

/** Starts the fake, creates the channel, and hands webhooks from `build` (message id, client number). */
function metaIngest(opts: {
  provider: string;
  type: string;
  settings: (fake: FakeMetaGraphApi) => Record<string, unknown>;
  build: (id: string, c: number, n: number) => unknown;
  id: (prefix: string, n: number) => string;
}): IngestProvider {
  return async (setup) => {
    const fake = await FakeMetaGraphApi.start();
    const channelId = await createIngestChannel(setup, opts.type, `Ingest bench ${opts.provider}`, {
      provider: opts.provider,
      appSecret: APP_SECRET,
      verifyToken: VERIFY_TOKEN,
      apiRoot: fake.apiRoot,
      ...opts.settings(fake),
    });
    return {
      channelId,
      path: `/webhooks/${opts.provider}/${channelId}`,
      webhooks(prefix, clients) {
        const next = roundRobin(clients);
        return () => {
          const { n, c } = next();
          const id = opts.id(prefix, n);
          return signed(opts.build(id, c, n), [id]);
        };
      },
      close: () => fake.close(),
    };
  };
}

const waNumber = (c: number) => `1555${String(c).padStart(7, '0')}`;

export const whatsappCloudIngest = metaIngest({
  provider: 'whatsappCloud',
  type: 'whatsapp',
  settings: (fake) => ({ accessToken: fake.token, phoneNumberId: PHONE_NUMBER_ID, wabaId: WABA_ID }),
  id: (prefix, n) => `wamid.HBgLMTU1NTAwMDAwMDAVAgASGBQ${prefix}${n}`,
  build: (id, c, n) =>
    whatsappWebhook([
      {
        contacts: [{ profile: { name: `Client ${c}` }, wa_id: waNumber(c) }],
        messages: [
          {
            from: waNumber(c),
            id,
            timestamp: String(Math.floor(Date.now() / 1000)),
            type: 'text',
            text: { body: `message ${n} from client ${c}` },
          },
        ],
      },
    ]),
});

/** A Messenger or Instagram text message from person `c` (a PSID or IGSID). */
function messagingIngest(provider: 'messenger' | 'instagram', object: 'page' | 'instagram', ownId: string) {
  return metaIngest({
    provider,
    type: provider === 'messenger' ? 'facebook' : 'instagram',
    settings: (fake) => ({ pageAccessToken: fake.token, pageId: PAGE_ID }),
    id: (prefix, n) => `m_bench-${provider}-${prefix}-${n}`,
    build: (id, c, n) =>
      messagingWebhook(object, ownId, [
        [
          {
            sender: { id: `${2400000000000000 + c}` },
            recipient: { id: ownId },
            timestamp: Date.now(),
            message: { mid: id, text: `message ${n} from client ${c}` },
          },
        ],
      ]),
  });
}

export const messengerIngest = messagingIngest('messenger', 'page', PAGE_ID);
export const instagramIngest = messagingIngest('instagram', 'instagram', IG_ACCOUNT_ID);
