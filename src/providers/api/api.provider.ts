/**
 * The generic API channel: any system can be a messenger.
 *
 * In:  POST /webhooks/api/<channelId>, header `X-Omniline-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`,
 *      {"messageId","from":{"id","username","name"},"text","attachments":[{"url","name","mimeType"}],"timestamp"}
 *      (optional "event": "message" | "edited" | "typing" | "read" | "close" | "online" | "offline";
 *      "read" may carry "messageId" of ours; "close" ends the client's open session, with an optional
 *      "reason"; "online" / "offline" are the client's presence).
 * Out: the same shape POSTed to the channel's `callbackUrl`, with "to" naming the recipient, signed the
 *      same way. Our messageId is stable across retries: receivers de-duplicate on it.
 * Settings: {"secret", "callbackUrl"}.
 */
import type { MessageType } from '../../domain/message/message.ts';
import { InvalidField } from '../../errors.ts';
import { unstorableText } from '../../lib/text.ts';
import { download, httpRequest, statusError } from '../http.ts';
import {
  type ChannelProvider,
  type ExternalUser,
  type InboundAttachment,
  type InboundEvent,
  ProviderError,
  WebhookRejected,
} from '../provider.ts';
import { headerValue, hmacHex, safeEqual } from '../signature.ts';

export const SIGNATURE_HEADER = 'x-omniline-signature';

export function signApiBody(secret: string, body: Buffer | string): string {
  return `sha256=${hmacHex('sha256', secret, body)}`;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A string field of the payload. `id: true` marks an identifier, which must be storable as sent (no
 * NUL, no unpaired surrogate): the calling system can fix it, while cleaning could merge two ids.
 * Text and names are cleaned by the pipeline instead (pipeline/inbound-sanitize.ts).
 */
function str(
  v: unknown,
  path: string,
  opts: { required?: boolean; max?: number; id?: boolean } = {},
): string | null {
  if (v === undefined || v === null) {
    if (opts.required) throw new InvalidField(path, 'is required', 'INVALID_PAYLOAD');
    return null;
  }
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string' || (opts.required && v.trim() === '')) {
    throw new InvalidField(path, 'must be a non-empty string', 'INVALID_PAYLOAD');
  }
  if (v.length > (opts.max ?? 10_000))
    throw new InvalidField(path, `must be at most ${opts.max ?? 10_000} characters`, 'INVALID_PAYLOAD');
  const unstorable = opts.id ? unstorableText(v) : null;
  if (unstorable) throw new InvalidField(path, unstorable, 'INVALID_PAYLOAD');
  return v;
}

function timestampOf(v: unknown): Date {
  if (v === undefined || v === null) return new Date();
  const d =
    typeof v === 'number' ? new Date(v < 1e12 ? v * 1000 : v) : typeof v === 'string' ? new Date(v) : null;
  // Years 1–9999 only: PostgreSQL cannot store all of what Date can hold.
  if (!d || Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1 || d.getUTCFullYear() > 9999) {
    throw new InvalidField('body.timestamp', 'must be an ISO 8601 time or a Unix time', 'INVALID_PAYLOAD');
  }
  return d;
}

function userOf(v: unknown): ExternalUser {
  if (!isRecord(v))
    throw new InvalidField('body.from', 'is required: {"id", "username", "name"}', 'INVALID_PAYLOAD');
  const name = str(v.name, 'body.from.name', { max: 300 });
  const [firstName, ...rest] = (name ?? '').trim().split(/\s+/);
  return {
    externalId: str(v.id, 'body.from.id', { required: true, max: 200, id: true })!,
    username: str(v.username, 'body.from.username', { max: 200 }),
    firstName: firstName || null,
    lastName: rest.join(' ') || null,
    phone: str(v.phone, 'body.from.phone', { max: 50 }),
    email: str(v.email, 'body.from.email', { max: 320 }),
  };
}

function attachmentsOf(v: unknown): InboundAttachment[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > 20)
    throw new InvalidField('body.attachments', 'must be an array of at most 20', 'INVALID_PAYLOAD');
  return v.map((a, i) => {
    const path = `body.attachments[${i}]`;
    if (!isRecord(a))
      throw new InvalidField(path, 'must be an object {"url","name","mimeType"}', 'INVALID_PAYLOAD');
    const url = str(a.url, `${path}.url`, { required: true, max: 4000, id: true })!;
    if (!/^https?:\/\//i.test(url))
      throw new InvalidField(`${path}.url`, 'must be an http(s) URL', 'INVALID_PAYLOAD');
    return {
      ref: url,
      name: str(a.name, `${path}.name`, { max: 500 }),
      mimeType: str(a.mimeType, `${path}.mimeType`, { max: 200 }),
    };
  });
}

export function messageTypeOf(attachments: { mimeType?: string | null }[]): MessageType {
  const mime = attachments[0]?.mimeType ?? null;
  if (attachments.length === 0) return 'text';
  if (mime?.startsWith('image/')) return 'image';
  if (mime?.startsWith('audio/')) return 'audio';
  if (mime?.startsWith('video/')) return 'video';
  return 'file';
}

function secretOf(settings: Record<string, unknown>): string {
  const secret = settings.secret;
  if (typeof secret !== 'string')
    throw new WebhookRejected('CHANNEL_MISCONFIGURED', 'the channel has no secret');
  return secret;
}

export const apiProvider: ChannelProvider = {
  name: 'api',
  channelType: 'api',
  publicSettings: ['callbackUrl'],
  idempotentSend: true,

  validateSettings(settings) {
    const { secret, callbackUrl } = settings;
    if (typeof secret !== 'string' || secret.length < 16) {
      throw new InvalidField('settings.secret', 'is required: a shared secret of at least 16 characters');
    }
    if (callbackUrl !== undefined && callbackUrl !== null) {
      if (typeof callbackUrl !== 'string' || !/^https?:\/\/\S+$/i.test(callbackUrl)) {
        throw new InvalidField('settings.callbackUrl', 'must be an http(s) URL');
      }
    }
    return { secret, ...(callbackUrl ? { callbackUrl } : {}) };
  },

  canSend(settings) {
    return typeof settings.callbackUrl === 'string'
      ? null
      : 'the api channel has no settings.callbackUrl to deliver to (PATCH the channel to set one)';
  },

  async parseWebhook(ctx, request) {
    const given = headerValue(request.headers, SIGNATURE_HEADER);
    if (!given || !safeEqual(given, signApiBody(secretOf(ctx.channel.settings), request.rawBody))) {
      throw new WebhookRejected('INVALID_SIGNATURE', `missing or wrong ${SIGNATURE_HEADER}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(request.rawBody.toString('utf8'));
    } catch {
      throw new InvalidField('body', 'is not valid JSON', 'INVALID_JSON');
    }
    if (!isRecord(body)) throw new InvalidField('body', 'must be a JSON object', 'INVALID_PAYLOAD');
    const from = userOf(body.from);
    const timestamp = timestampOf(body.timestamp);
    const kind = body.event ?? 'message';
    let event: InboundEvent;
    switch (kind) {
      case 'message': {
        const text = str(body.text, 'body.text');
        const attachments = attachmentsOf(body.attachments);
        if (!text && attachments.length === 0) {
          throw new InvalidField('body.text', 'a message needs text or attachments', 'INVALID_PAYLOAD');
        }
        event = {
          kind: 'message',
          externalMessageId: str(body.messageId, 'body.messageId', { required: true, max: 200, id: true })!,
          from,
          type: messageTypeOf(attachments),
          text,
          attachments,
          timestamp,
        };
        break;
      }
      case 'edited':
        event = {
          kind: 'edited',
          externalMessageId: str(body.messageId, 'body.messageId', { required: true, max: 200, id: true })!,
          from,
          text: str(body.text, 'body.text'),
          timestamp,
        };
        break;
      case 'typing':
        event = { kind: 'typing', from, timestamp };
        break;
      case 'read':
        event = {
          kind: 'read',
          from,
          upToExternalMessageId: str(body.messageId, 'body.messageId', { max: 200, id: true }),
          timestamp,
        };
        break;
      case 'close':
        event = { kind: 'closed', from, reason: str(body.reason, 'body.reason', { max: 200 }), timestamp };
        break;
      case 'online':
      case 'offline':
        event = { kind: 'presence', from, online: kind === 'online', timestamp };
        break;
      default:
        throw new InvalidField(
          'body.event',
          'must be one of message, edited, typing, read, close, online, offline',
          'INVALID_PAYLOAD',
        );
    }
    return { events: [event] };
  },

  async send(ctx, message) {
    const url = ctx.channel.settings.callbackUrl;
    if (typeof url !== 'string') {
      throw new ProviderError('NO_CALLBACK_URL', 'the api channel has no callbackUrl to send to', {
        retryable: false,
      });
    }
    const body = JSON.stringify({
      messageId: message.id,
      to: { id: message.to.externalId },
      from: { id: message.sender.id, name: message.sender.name ?? null, type: message.sender.type },
      text: message.text,
      attachments: message.attachments.map((a) => ({
        fileId: a.fileId,
        name: a.name,
        mimeType: a.mimeType,
        size: a.size,
        url: a.url,
        urlExpiresAt: a.urlExpiresAt.toISOString(),
      })),
      timestamp: new Date().toISOString(),
    });
    const res = await httpRequest(ctx.fetch, url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signApiBody(secretOf(ctx.channel.settings), body),
      },
      body,
      timeoutMs: 15_000,
    });
    if (res.status < 200 || res.status >= 300) throw statusError(res, `callback answered ${res.status}`);
    const answered = isRecord(res.json) && typeof res.json.messageId === 'string' ? res.json.messageId : null;
    return { externalId: answered ?? message.id };
  },

  loadAttachment(ctx, ref) {
    return download(ctx.fetch, ref);
  },
};
