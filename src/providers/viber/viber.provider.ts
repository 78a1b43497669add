/**
 * The Viber bot channel (type `viberbot`; REST bot API, https://developers.viber.com/docs/api/rest-bot-api/).
 *
 * In:  POST /webhooks/viber/<channelId>, verified by `X-Viber-Content-Signature` (hex HMAC-SHA256 of
 *      the raw body with the auth token) before anything is read; message tokens read exactly from the
 *      raw text. Viber checks the URL with a `webhook` callback while `set_webhook` runs — before the
 *      channel exists — which the probe answers 200 without storing anything.
 * Out: `send_message` text / picture / file; `get_user_details` for profiles.
 * Register checks the token (`get_account_info`, whose id is the channel's source) and sets the
 * webhook; unregister removes it (`set_webhook` with an empty URL). Reconnectable.
 */
import { InvalidField } from '../../errors.ts';
import { download } from '../http.ts';
import {
  type ChannelProvider,
  type ExternalUser,
  type ProviderContext,
  ProviderError,
  WebhookRejected,
} from '../provider.ts';
import { headerValue, hmacHex, safeEqual } from '../signature.ts';
import { validateViberSettings, viberSettings } from './viber.settings.ts';
import { callViber, type ViberApi } from './viber-api.client.ts';
import { viberEvents, viberUser } from './viber-event.converter.ts';
import { parseViberJson } from './viber-json.ts';
import { sendViberMessage } from './viber-outbound.sender.ts';

export const VIBER_SIGNATURE_HEADER = 'x-viber-content-signature';
/** The callbacks asked for (`message` always comes). */
export const VIBER_EVENT_TYPES = [
  'delivered',
  'seen',
  'failed',
  'subscribed',
  'unsubscribed',
  'conversation_started',
];

export function signViberBody(authToken: string, body: Buffer | string): string {
  return hmacHex('sha256', authToken, body);
}

export function viberWebhookUrl(publicUrl: string, channelId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/webhooks/viber/${encodeURIComponent(channelId)}`;
}

function apiOf(ctx: ProviderContext): ViberApi {
  return { settings: viberSettings(ctx.channel.settings), fetch: ctx.fetch };
}

/** A `webhook` check callback: small, and says so in its `event` member. */
function isWebhookCheck(rawBody: Buffer): boolean {
  if (rawBody.length > 1024 || !rawBody.includes('"webhook"')) return false;
  try {
    const body = JSON.parse(rawBody.toString('utf8')) as { event?: unknown };
    return body?.event === 'webhook';
  } catch {
    return false;
  }
}

export const viberProvider: ChannelProvider = {
  name: 'viber',
  channelType: 'viberbot',
  publicSettings: ['senderName', 'senderAvatar', 'apiRoot'],
  idempotentSend: false,

  validateSettings: validateViberSettings,

  canSend(settings) {
    return typeof settings.authToken === 'string' ? null : 'the viberbot channel has no settings.authToken';
  },

  async register(ctx) {
    const api = apiOf(ctx);
    if (!ctx.publicUrl) {
      throw new ProviderError(
        'PUBLIC_URL_REQUIRED',
        'Viber calls a webhook: configure the server public URL',
        {
          retryable: false,
        },
      );
    }
    const account = await callViber(api, 'get_account_info', {});
    await callViber(api, 'set_webhook', {
      url: viberWebhookUrl(ctx.publicUrl, ctx.channel.id),
      event_types: VIBER_EVENT_TYPES,
      send_name: true,
      send_photo: true,
    });
    ctx.log.info({ channelId: ctx.channel.id, account: account.uri }, 'viber bot registered');
    return { source: typeof account.id === 'string' ? account.id : null };
  },

  async unregister(ctx) {
    await callViber(apiOf(ctx), 'set_webhook', { url: '' });
  },

  probe(request) {
    return request.method === 'POST' && isWebhookCheck(request.rawBody)
      ? { status: 200, body: { status: 0 } }
      : null;
  },

  async parseWebhook(ctx, request) {
    const { authToken } = viberSettings(ctx.channel.settings);
    const given = headerValue(request.headers, VIBER_SIGNATURE_HEADER);
    if (!given || !safeEqual(given.toLowerCase(), signViberBody(authToken, request.rawBody))) {
      throw new WebhookRejected('INVALID_SIGNATURE', 'missing or wrong X-Viber-Content-Signature');
    }
    let body: unknown;
    try {
      body = parseViberJson(request.rawBody.toString('utf8'));
    } catch {
      throw new InvalidField('body', 'is not valid JSON', 'INVALID_JSON');
    }
    return { events: viberEvents(body) };
  },

  send(ctx, message) {
    return sendViberMessage(apiOf(ctx), message);
  },

  async fetchProfile(ctx, externalUserId): Promise<ExternalUser | null> {
    let answer: Record<string, unknown>;
    try {
      answer = await callViber(apiOf(ctx), 'get_user_details', { id: externalUserId });
    } catch (err) {
      // Not a Viber user (any more), or the lookup limit: nobody we can describe now.
      if (err instanceof ProviderError && !err.opts.channelError) return null;
      throw err;
    }
    try {
      return viberUser(answer.user, 'user');
    } catch {
      return null;
    }
  },

  /** Viber's media URLs expire: the attachment job fetches them at once, without credentials. */
  loadAttachment(ctx, ref) {
    return download(ctx.fetch, ref);
  },
};
