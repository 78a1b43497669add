/**
 * WhatsApp (and SMS) through Twilio's Programmable Messaging API (channel type `whatsapp`, provider
 * `twilio`; https://www.twilio.com/docs/messaging).
 *
 * In:  POST /webhooks/twilio/<channelId>, form-encoded, verified by `X-Twilio-Signature` over the
 *      exact URL Twilio called (`publicBaseUrl` or OMNILINE_PUBLIC_URL, plus the path and query) and
 *      the sorted parameters, before anything is read. Messages and our `StatusCallback`s arrive there;
 *      Twilio is answered an empty TwiML `<Response/>`. Media (`MediaUrl<N>`) are downloaded with
 *      Basic auth by the attachment job.
 * Out: `POST /2010-04-01/Accounts/<AccountSid>/Messages.json` (To, From, Body, MediaUrl,
 *      StatusCallback) with Basic auth.
 * Register checks the credentials (GET the account) and tells the webhook URL to set in the Twilio
 * console (`settings.webhookUrl`): Twilio has no API to point a WhatsApp sender at it.
 */
import { BadRequest } from '../../errors.ts';
import { download } from '../http.ts';
import {
  type ChannelProvider,
  type ProviderContext,
  ProviderError,
  WebhookRejected,
  type WebhookRequest,
} from '../provider.ts';
import { headerValue } from '../signature.ts';
import { type TwilioSettings, twilioSettings, validateTwilioSettings } from './twilio.settings.ts';
import { basicAuth, callTwilio, type TwilioApi } from './twilio-api.client.ts';
import { sendTwilioMessage } from './twilio-outbound.sender.ts';
import { TWILIO_SIGNATURE_HEADER, verifyTwilioSignature } from './twilio-signature.ts';
import { formParams, twilioEvents } from './twilio-webhook.converter.ts';

/** The answer Twilio expects from a messaging webhook: TwiML that sends nothing back. */
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

function apiOf(ctx: ProviderContext): TwilioApi {
  return { settings: twilioSettings(ctx.channel.settings), fetch: ctx.fetch };
}

/** The base URL Twilio calls this server by: the channel's `publicBaseUrl`, the server's public URL. */
export function publicBase(settings: TwilioSettings, ctx: Pick<ProviderContext, 'publicUrl'>): string | null {
  return (settings.publicBaseUrl ?? ctx.publicUrl)?.replace(/\/+$/, '') ?? null;
}

export function twilioWebhookUrl(base: string, channelId: string): string {
  return `${base}/webhooks/twilio/${encodeURIComponent(channelId)}`;
}

/**
 * The URL Twilio called: the configured base plus the path and query as received; without a
 * configured base, the request's own Host (and X-Forwarded-Proto / -Host from a proxy).
 */
function calledUrl(settings: TwilioSettings, ctx: ProviderContext, request: WebhookRequest): string {
  const base = publicBase(settings, ctx);
  if (base) return `${base}${request.url}`;
  const proto = headerValue(request.headers, 'x-forwarded-proto')?.split(',')[0]?.trim() || 'http';
  const host =
    headerValue(request.headers, 'x-forwarded-host') ?? headerValue(request.headers, 'host') ?? 'localhost';
  return `${proto}://${host}${request.url}`;
}

export const twilioProvider: ChannelProvider = {
  name: 'twilio',
  channelType: 'whatsapp',
  publicSettings: ['accountSid', 'from', 'whatsapp', 'publicBaseUrl', 'apiRoot', 'webhookUrl'],
  idempotentSend: false,

  validateSettings: validateTwilioSettings,

  async register(ctx) {
    const api = apiOf(ctx);
    const account = await callTwilio(api, 'account lookup', '.json');
    if (typeof account.status === 'string' && account.status !== 'active') {
      throw new ProviderError('ACCOUNT_INACTIVE', `the Twilio account is ${account.status}`, {
        retryable: false,
        channelError: true,
      });
    }
    const base = publicBase(api.settings, ctx);
    ctx.log.info({ channelId: ctx.channel.id, from: api.settings.from }, 'twilio channel registered');
    return {
      source: api.settings.from,
      settings: { webhookUrl: base ? twilioWebhookUrl(base, ctx.channel.id) : null },
    };
  },

  async parseWebhook(ctx, request) {
    const settings = twilioSettings(ctx.channel.settings);
    const given = headerValue(request.headers, TWILIO_SIGNATURE_HEADER);
    if (!given) throw new WebhookRejected('INVALID_SIGNATURE', 'missing X-Twilio-Signature');
    const params = formParams(request.rawBody);
    if (!verifyTwilioSignature(settings.authToken, calledUrl(settings, ctx, request), params, given)) {
      throw new WebhookRejected(
        'INVALID_SIGNATURE',
        'wrong X-Twilio-Signature (behind a proxy, set settings.publicBaseUrl to the URL Twilio calls)',
      );
    }
    const account = params.find(([k]) => k === 'AccountSid')?.[1];
    if (account !== settings.accountSid) {
      throw new BadRequest('RECIPIENT_MISMATCH', 'the webhook is for another Twilio account', {
        field: 'body.AccountSid',
      });
    }
    return {
      events: twilioEvents(params, new Date()),
      reply: { status: 200, body: EMPTY_TWIML, contentType: 'text/xml' },
    };
  },

  canSend(settings) {
    return typeof settings.authToken === 'string' ? null : 'the twilio channel has no settings.authToken';
  },

  send(ctx, message) {
    const api = apiOf(ctx);
    const base = publicBase(api.settings, ctx);
    return sendTwilioMessage(api, message, base ? twilioWebhookUrl(base, ctx.channel.id) : null);
  },

  /** Media URLs are on Twilio's API and need the account's Basic auth; elsewhere none is sent. */
  loadAttachment(ctx, ref) {
    const api = apiOf(ctx);
    const sameOrigin = new URL(ref).origin === new URL(api.settings.apiRoot).origin;
    return download(ctx.fetch, ref, sameOrigin ? { authorization: basicAuth(api.settings) } : {});
  },
};
