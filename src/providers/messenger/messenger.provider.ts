/**
 * The Messenger Platform channels: Facebook pages (provider `messenger`, channel type `facebook`)
 * and Instagram professional accounts (provider `instagram`, type `instagram`), one implementation.
 *
 * In:  `GET /webhooks/<provider>/<channelId>` answers the hub challenge with `verifyToken`; `POST`
 *      carries `X-Hub-Signature-256` over the raw body (the `appSecret`); messenger-webhook.converter.ts.
 * Out: messenger-outbound.sender.ts; the 24-hour window, extended to 7 days with the HUMAN_AGENT tag
 *      when `humanAgentTag` is true; "typing…" as the `typing_on` sender action, an operator's read
 *      as `mark_seen`.
 * Profile: `GET /<PSID>?fields=first_name,last_name,profile_pic` (Instagram: `name,username,profile_pic`
 *      of the IGSID), the placeholder name when the API gives none.
 * Settings: {"pageAccessToken", "appSecret", "verifyToken", "pageId", "humanAgentTag", "apiRoot",
 *      "apiVersion"}; the token and secrets are write-only.
 */
import { downloadCapped } from '../download.ts';
import { graphApiOf, META_PUBLIC_SETTINGS, validateMetaSettings } from '../meta/meta.settings.ts';
import { GraphError, graphCall, graphError } from '../meta/meta-graph.client.ts';
import { isRecord, metaChallenge, parseEnvelope, str, verifyMetaSignature } from '../meta/meta-webhook.ts';
import type { ChannelProvider, ExternalUser, ProviderContext } from '../provider.ts';
import { ProviderError } from '../provider.ts';
import { sendMessenger, UPLOAD_LIMIT } from './messenger-outbound.sender.ts';
import { messengerEvents } from './messenger-webhook.converter.ts';

const TOKEN_KEY = 'pageAccessToken';
/** Webhook fields a page subscribes our app to. */
export const SUBSCRIBED_FIELDS =
  'messages,messaging_postbacks,message_deliveries,message_reads,message_echoes,message_reactions,message_edits';

interface Flavour {
  name: string;
  channelType: string;
  object: 'page' | 'instagram';
  messenger: string;
  textLimit: number;
  profileFields: string;
}

const apiOf = (ctx: ProviderContext) => graphApiOf(ctx.channel.settings, TOKEN_KEY, ctx.fetch);

function pageIdOf(ctx: ProviderContext): string {
  const id = ctx.channel.settings.pageId;
  if (typeof id !== 'string' || id === '') {
    throw new ProviderError('CHANNEL_MISCONFIGURED', 'the channel has no settings.pageId', {
      retryable: false,
    });
  }
  return id;
}

function profileOf(body: Record<string, unknown>, id: string): ExternalUser {
  const name = str(body.name);
  return {
    externalId: id,
    username: str(body.username),
    firstName: str(body.first_name) ?? name,
    lastName: str(body.last_name),
    avatarUrl: str(body.profile_pic),
  };
}

async function senderAction(ctx: ProviderContext, to: string, action: 'typing_on' | 'mark_seen') {
  await graphCall(apiOf(ctx), 'sender action', `${pageIdOf(ctx)}/messages`, {
    body: { recipient: { id: to }, sender_action: action },
  });
}

export function messengerPlatformProvider(f: Flavour): ChannelProvider {
  return {
    name: f.name,
    channelType: f.channelType,
    publicSettings: ['pageId', 'humanAgentTag', ...META_PUBLIC_SETTINGS],
    idempotentSend: false,
    replyWindow: { hours: 24, taggedHours: (s) => (s.humanAgentTag === true ? 7 * 24 : null) },

    validateSettings: (settings) =>
      validateMetaSettings(settings, {
        tokenKey: TOKEN_KEY,
        idKeys: [{ key: 'pageId', required: true }],
        flags: ['humanAgentTag'],
      }),

    canSend: (settings) =>
      typeof settings.pageAccessToken === 'string'
        ? null
        : `the ${f.channelType} channel has no settings.pageAccessToken`,

    /** Checks the page token, learns the account id and subscribes the page to our webhook fields. */
    async register(ctx) {
      const api = apiOf(ctx);
      const pageId = pageIdOf(ctx);
      const fields = f.object === 'instagram' ? 'id,name,instagram_business_account' : 'id,name';
      const page = await graphCall(api, 'page lookup', pageId, { query: { fields } });
      await graphCall(api, 'webhook subscription', `${pageId}/subscribed_apps`, {
        method: 'POST',
        query: { subscribed_fields: SUBSCRIBED_FIELDS },
      });
      const ig = isRecord(page.instagram_business_account) ? str(page.instagram_business_account.id) : null;
      ctx.log.info({ channelId: ctx.channel.id, page: page.name }, `${f.name} page registered`);
      return { source: f.object === 'instagram' ? (ig ?? pageId) : pageId };
    },

    async unregister(ctx) {
      await graphCall(apiOf(ctx), 'webhook unsubscription', `${pageIdOf(ctx)}/subscribed_apps`, {
        method: 'DELETE',
      });
    },

    verifyChallenge: (ctx, request) => metaChallenge(request, ctx.channel.settings.verifyToken),

    async parseWebhook(ctx, request) {
      verifyMetaSignature(request, ctx.channel.settings.appSecret);
      const entries = parseEnvelope(request.rawBody, f.object);
      const own = new Set([pageIdOf(ctx), ...(ctx.channel.source ? [ctx.channel.source] : [])]);
      return { events: messengerEvents(entries, own) };
    },

    send: (ctx, message) =>
      sendMessenger(apiOf(ctx), pageIdOf(ctx), message, {
        publicUrl: ctx.publicUrl,
        textLimit: f.textLimit,
        messenger: f.messenger,
      }),

    sendTyping: (ctx, to) => senderAction(ctx, to.externalId, 'typing_on'),

    /** An operator read the person's messages: Messenger shows them seen (`mark_seen`). */
    notices: ['read'],
    async notify(ctx, to, notice) {
      if (notice.type === 'read') await senderAction(ctx, to.externalId, 'mark_seen');
    },

    async fetchProfile(ctx, externalUserId) {
      try {
        const body = await graphCall(apiOf(ctx), 'profile', encodeURIComponent(externalUserId), {
          query: { fields: f.profileFields },
        });
        return profileOf(body, externalUserId);
      } catch (err) {
        // No permission for profiles, or an unknown id: the client gets the placeholder name.
        if (err instanceof GraphError && !err.retryable) return null;
        throw err;
      }
    },

    async loadAttachment(ctx, ref) {
      const api = apiOf(ctx);
      // CDN links are signed URLs: no token goes with them.
      return downloadCapped(api.fetch, ref, {
        limit: UPLOAD_LIMIT,
        messenger: f.messenger,
        what: `${f.messenger} attachment`,
        onError: (result) => graphError('attachment download', result, api.token),
      });
    },
  };
}

export const messengerProvider = messengerPlatformProvider({
  name: 'messenger',
  channelType: 'facebook',
  object: 'page',
  messenger: 'Messenger',
  textLimit: 2000,
  profileFields: 'first_name,last_name,profile_pic',
});
