/**
 * The WhatsApp Business Cloud API channel (channel type `whatsapp`, provider `whatsappCloud`).
 *
 * In:  `GET /webhooks/whatsappCloud/<channelId>` answers Meta's hub challenge with `verifyToken`;
 *      `POST` carries `X-Hub-Signature-256` over the raw body (the `appSecret`), then
 *      whatsapp-webhook.converter.ts turns messages and statuses into events.
 * Out: whatsapp-outbound.sender.ts; the 24-hour window (reply-window.ts) with template sends; an
 *      operator's read marks the client's latest message read (`status: read`).
 * Files: a media id → `GET /<media-id>` → a URL that lives about five minutes → the bytes (same
 *      token), fetched by the attachment job right after the message is stored; capped by kind.
 * Settings: {"accessToken", "appSecret", "verifyToken", "phoneNumberId", "wabaId", "apiRoot",
 *      "apiVersion"}; the token and secrets are write-only.
 */
import { downloadCapped } from '../download.ts';
import { graphApiOf, META_PUBLIC_SETTINGS, validateMetaSettings } from '../meta/meta.settings.ts';
import { graphCall, graphError } from '../meta/meta-graph.client.ts';
import { metaChallenge, parseEnvelope, verifyMetaSignature } from '../meta/meta-webhook.ts';
import { type ChannelProvider, type ProviderContext, ProviderError } from '../provider.ts';
import { MEDIA_LIMITS, type MediaKind, sendWhatsapp } from './whatsapp-outbound.sender.ts';
import { whatsappEvents } from './whatsapp-webhook.converter.ts';

const TOKEN_KEY = 'accessToken';

const apiOf = (ctx: ProviderContext) => graphApiOf(ctx.channel.settings, TOKEN_KEY, ctx.fetch);

function phoneNumberIdOf(ctx: ProviderContext): string {
  const id = ctx.channel.settings.phoneNumberId;
  if (typeof id !== 'string' || id === '') {
    throw new ProviderError('CHANNEL_MISCONFIGURED', 'the whatsapp channel has no settings.phoneNumberId', {
      retryable: false,
    });
  }
  return id;
}

export const whatsappCloudProvider: ChannelProvider = {
  name: 'whatsappCloud',
  channelType: 'whatsapp',
  publicSettings: ['phoneNumberId', 'wabaId', ...META_PUBLIC_SETTINGS],
  idempotentSend: false,
  replyWindow: { hours: 24 },
  sendsTemplates: true,

  validateSettings: (settings) =>
    validateMetaSettings(settings, {
      tokenKey: TOKEN_KEY,
      idKeys: [
        { key: 'phoneNumberId', required: true },
        { key: 'wabaId', required: false },
      ],
    }),

  canSend: (settings) =>
    typeof settings.accessToken === 'string' ? null : 'the whatsapp channel has no settings.accessToken',

  /** Checks the token against the phone number, and subscribes the app to the business account's webhooks. */
  async register(ctx) {
    const api = apiOf(ctx);
    const phoneNumberId = phoneNumberIdOf(ctx);
    const number = await graphCall(api, 'phone number lookup', phoneNumberId, {
      query: { fields: 'display_phone_number,verified_name' },
    });
    const wabaId = ctx.channel.settings.wabaId;
    if (typeof wabaId === 'string' && wabaId !== '') {
      await graphCall(api, 'webhook subscription', `${wabaId}/subscribed_apps`, { method: 'POST', body: {} });
    }
    ctx.log.info(
      { channelId: ctx.channel.id, number: number.display_phone_number },
      'whatsapp number registered',
    );
    return { source: phoneNumberId };
  },

  async unregister(ctx) {
    const wabaId = ctx.channel.settings.wabaId;
    if (typeof wabaId !== 'string' || wabaId === '') return;
    await graphCall(apiOf(ctx), 'webhook unsubscription', `${wabaId}/subscribed_apps`, { method: 'DELETE' });
  },

  verifyChallenge: (ctx, request) => metaChallenge(request, ctx.channel.settings.verifyToken),

  async parseWebhook(ctx, request) {
    verifyMetaSignature(request, ctx.channel.settings.appSecret);
    const entries = parseEnvelope(request.rawBody, 'whatsapp_business_account');
    return { events: whatsappEvents(entries, phoneNumberIdOf(ctx)) };
  },

  send: (ctx, message) => sendWhatsapp(apiOf(ctx), phoneNumberIdOf(ctx), message, ctx.publicUrl),

  /** An operator read the client's messages: WhatsApp shows the latest (and those before it) read. */
  notices: ['read'],
  async notify(ctx, _to, notice) {
    if (notice.type !== 'read' || !notice.lastExternalId) return;
    await graphCall(apiOf(ctx), 'mark as read', `${phoneNumberIdOf(ctx)}/messages`, {
      body: { messaging_product: 'whatsapp', status: 'read', message_id: notice.lastExternalId },
    });
  },

  async loadAttachment(ctx, ref) {
    const at = ref.indexOf(':');
    const kind = (at > 0 ? ref.slice(0, at) : 'document') as MediaKind;
    const mediaId = at > 0 ? ref.slice(at + 1) : ref;
    const api = apiOf(ctx);
    const media = await graphCall<{ url?: unknown; mime_type?: unknown; file_size?: unknown }>(
      api,
      'media lookup',
      encodeURIComponent(mediaId),
    );
    if (typeof media.url !== 'string') {
      throw new ProviderError('FILE_UNAVAILABLE', 'WhatsApp gave no URL for this media', {
        retryable: false,
      });
    }
    return downloadCapped(api.fetch, media.url, {
      headers: { authorization: `Bearer ${api.token}` },
      limit: Object.hasOwn(MEDIA_LIMITS, kind) ? MEDIA_LIMITS[kind] : MEDIA_LIMITS.document,
      messenger: 'WhatsApp',
      what: `WhatsApp ${kind} ${mediaId}`,
      mimeType: typeof media.mime_type === 'string' ? media.mime_type : null,
      size: typeof media.file_size === 'number' ? media.file_size : null,
      onError: (result) => graphError('media download', result, api.token),
    });
  },
};
