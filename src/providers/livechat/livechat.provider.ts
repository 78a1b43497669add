/**
 * The website live chat (`livechat`): the widget (web/widget/) is the messenger.
 *
 * In:  `POST /livechat/:channelId/messages` with `Authorization: Bearer <visitor token>` and a
 *      VisitorCommand body (src/http/routes/livechat.route.ts hands it here as a webhook request, then
 *      to the inbound pipeline like any messenger's webhook). A message's `messageId` is the widget's
 *      own uuid: a resend after a network drop is the same message, stored once.
 * Out: operator messages, typing and notices are publications on the visitor's own stream
 *      (`ctx.pushToClient`), kept in history so a widget that reconnects recovers what it missed.
 * Connect: the widget connects to the realtime gateway with `data: {channel}` and its visitor token;
 *      `authenticateClient` checks the token and the page's origin.
 */
import { InvalidField } from '../../errors.ts';
import { messageTypeOf } from '../api/api.provider.ts';
import type { ChannelProvider, ExternalUser, ProviderContext } from '../provider.ts';
import { ProviderError, WebhookRejected } from '../provider.ts';
import { headerValue } from '../signature.ts';
import {
  newTokenSecret,
  originAllowed,
  PUBLIC_SETTINGS,
  validateLivechatSettings,
} from './livechat.settings.ts';
import { MAX_FILES_PER_MESSAGE, openUploadRef, type UploadedFile } from './uploads.ts';
import type { VisitorEvent, VisitorMessage } from './visitor-events.ts';
import { verifyVisitorToken } from './visitor-token.ts';

/** Longest visitor message (characters). */
export const MAX_TEXT = 4000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function tokenSecretOf(ctx: ProviderContext): string {
  const secret = ctx.channel.settings.tokenSecret;
  if (typeof secret !== 'string')
    throw new WebhookRejected('CHANNEL_MISCONFIGURED', 'the channel has no token secret');
  return secret;
}

/** The visitor a request's bearer token names (and whose page's origin is allowed); throws when refused. */
export function visitorOf(
  ctx: ProviderContext,
  token: string | undefined,
  origin: string | undefined,
): string {
  return visitorProfileOf(ctx, token, origin).externalId;
}

/** The visitor and the profile their token carries (their pre-chat form, or the site's identity). */
function visitorProfileOf(
  ctx: ProviderContext,
  token: string | undefined,
  origin: string | undefined,
): ExternalUser {
  if (!originAllowed(ctx.channel.settings, origin))
    throw new WebhookRejected(
      'VISITOR_ORIGIN_REFUSED',
      `origin ${origin ?? '(none)'} may not use this widget`,
    );
  if (!token)
    throw new WebhookRejected('VISITOR_TOKEN_REQUIRED', 'Authorization: Bearer <visitor token> is required');
  let visitor: ReturnType<typeof verifyVisitorToken>;
  try {
    visitor = verifyVisitorToken(tokenSecretOf(ctx), ctx.channel.id, token);
  } catch (err) {
    if (err instanceof ProviderError) throw new WebhookRejected('VISITOR_TOKEN_EXPIRED', err.message);
    throw err;
  }
  if (!visitor)
    throw new WebhookRejected('INVALID_VISITOR_TOKEN', 'the visitor token is not valid for this channel');
  const [firstName, ...rest] = (visitor.name ?? '').trim().split(/\s+/);
  return {
    externalId: visitor.visitorId,
    firstName: firstName || null,
    lastName: rest.join(' ') || null,
    email: visitor.email,
  };
}

/** The visitor's uploads a message names (`files`: upload references of theirs). */
function uploadsOf(ctx: ProviderContext, visitorId: string, v: unknown): UploadedFile[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > MAX_FILES_PER_MESSAGE)
    throw new InvalidField(
      'body.files',
      `must be an array of at most ${MAX_FILES_PER_MESSAGE} upload ids`,
      'INVALID_PAYLOAD',
    );
  return v.map((ref, i) => {
    const file =
      typeof ref === 'string' && ref.length <= 2000
        ? openUploadRef(tokenSecretOf(ctx), ctx.channel.id, visitorId, ref)
        : null;
    if (!file)
      throw new InvalidField(
        `body.files[${i}]`,
        'must be the id of a file this visitor uploaded (POST /livechat/{channelId}/files)',
        'INVALID_PAYLOAD',
      );
    return file;
  });
}

export const bearer = (headers: Record<string, string | string[] | undefined>) =>
  /^Bearer\s+(\S+)$/i.exec(headerValue(headers, 'authorization') ?? '')?.[1];

async function push(ctx: ProviderContext, visitorId: string, event: VisitorEvent): Promise<void> {
  if (!ctx.pushToClient)
    throw new ProviderError('NO_GATEWAY', 'this process runs no realtime gateway', { retryable: true });
  await ctx.pushToClient(visitorId, event);
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const livechatProvider: ChannelProvider = {
  name: 'livechat',
  channelType: 'livechat',
  publicSettings: PUBLIC_SETTINGS,
  idempotentSend: true,

  validateSettings: validateLivechatSettings,

  async register(ctx) {
    // The secret that signs visitor tokens: made once, kept across reconnects and setting changes.
    return {
      source: null,
      settings: typeof ctx.channel.settings.tokenSecret === 'string' ? {} : { tokenSecret: newTokenSecret() },
    };
  },

  authenticateClient(ctx, { token, origin }) {
    if (!originAllowed(ctx.channel.settings, origin)) return null;
    const visitor = verifyVisitorToken(tokenSecretOf(ctx), ctx.channel.id, token);
    return visitor ? { externalId: visitor.visitorId } : null;
  },

  async parseWebhook(ctx, request) {
    const from = visitorProfileOf(ctx, bearer(request.headers), headerValue(request.headers, 'origin'));
    let body: unknown;
    try {
      body = JSON.parse(request.rawBody.toString('utf8'));
    } catch {
      throw new InvalidField('body', 'is not valid JSON', 'INVALID_JSON');
    }
    if (!isRecord(body)) throw new InvalidField('body', 'must be a JSON object', 'INVALID_PAYLOAD');
    const timestamp = new Date();
    const messageId = body.messageId;
    switch (body.event) {
      case 'message': {
        if (typeof messageId !== 'string' || !UUID.test(messageId))
          throw new InvalidField(
            'body.messageId',
            'must be the message uuid the widget made',
            'INVALID_PAYLOAD',
          );
        const files = uploadsOf(ctx, from.externalId, body.files);
        const text = body.text ?? null;
        if (text !== null && typeof text !== 'string')
          throw new InvalidField('body.text', 'must be a string', 'INVALID_PAYLOAD');
        if ((text === null || text.trim() === '') && files.length === 0)
          throw new InvalidField(
            'body.text',
            'is required (unless the message carries files)',
            'INVALID_PAYLOAD',
          );
        if (text !== null && text.length > MAX_TEXT)
          throw new InvalidField('body.text', `must be at most ${MAX_TEXT} characters`, 'INVALID_PAYLOAD');
        return {
          events: [
            {
              kind: 'message',
              externalMessageId: messageId.toLowerCase(),
              from,
              type: messageTypeOf(files),
              text: text?.trim() === '' ? null : text,
              attachments: files.map((f) => ({
                ref: '',
                fileId: f.fileId,
                name: f.name,
                mimeType: f.mimeType,
                size: f.size,
              })),
              timestamp,
            },
          ],
        };
      }
      case 'read':
        if (messageId !== undefined && typeof messageId !== 'string')
          throw new InvalidField('body.messageId', 'must be a message id', 'INVALID_PAYLOAD');
        return { events: [{ kind: 'read', from, upToExternalMessageId: messageId ?? null, timestamp }] };
      case 'typing':
        return { events: [{ kind: 'typing', from, timestamp }] };
      case 'close':
        return { events: [{ kind: 'closed', from, reason: 'visitor ended the chat', timestamp }] };
      default:
        throw new InvalidField(
          'body.event',
          'must be one of message, read, typing, close',
          'INVALID_PAYLOAD',
        );
    }
  },

  async send(ctx, message) {
    const author =
      message.sender.type === 'operator' ? 'operator' : message.sender.type === 'bot' ? 'bot' : 'system';
    const out: VisitorMessage = {
      id: message.id,
      sessionId: null,
      clientMessageId: null,
      author,
      name: message.sender.name ?? null,
      text: message.text,
      attachments: message.attachments.map((a) => ({
        name: a.name,
        mimeType: a.mimeType,
        size: a.size,
        url: a.url,
      })),
      createdAt: new Date().toISOString(),
      cursor: null,
    };
    await push(ctx, message.to.externalId, { type: 'message', message: out });
    return { externalId: message.id };
  },

  async sendTyping(ctx, to) {
    await push(ctx, to.externalId, { type: 'typing', name: null });
  },

  async notify(ctx, to, notice) {
    switch (notice.type) {
      case 'received': {
        const m = notice.message;
        return push(ctx, to.externalId, {
          type: 'message',
          message: {
            id: m.id,
            sessionId: m.sessionId,
            clientMessageId: m.externalId,
            author: 'visitor',
            name: null,
            text: m.text,
            attachments: m.attachments.map((a, i) => ({
              name: a.name,
              mimeType: a.mimeType,
              size: a.size,
              url: notice.fileUrls[i] ?? null,
            })),
            createdAt: m.createdAt,
            cursor: m.cursor,
          },
        });
      }
      case 'read':
        return push(ctx, to.externalId, { type: 'read', sessionId: notice.sessionId, readAt: notice.readAt });
      case 'assigned':
        return push(ctx, to.externalId, {
          type: 'assigned',
          sessionId: notice.sessionId,
          operator: notice.operator,
        });
      case 'closed':
        return push(ctx, to.externalId, {
          type: 'closed',
          sessionId: notice.sessionId,
          closedAt: notice.closedAt,
          byClient: notice.byClient,
        });
    }
  },
};
