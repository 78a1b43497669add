/**
 * The Telegram bot channel (Bot API, https://core.telegram.org/bots/api).
 *
 * In:  long polling `getUpdates` (mode "polling", the default) or a webhook
 *      POST /webhooks/telegramBot/<channelId> carrying `X-Telegram-Bot-Api-Secret-Token` (mode "webhook").
 *      Both convert Updates with the same function (telegram-update.converter.ts).
 * Out: sendMessage, or multipart sendPhoto/sendDocument for attachments; editMessageText for edits.
 * Settings: {"token", "mode": "polling" | "webhook", "apiRoot", "webhookSecret" (generated)}.
 * The token is part of every API URL: it never goes into a log line or an error message.
 */
import { randomBytes } from 'node:crypto';
import { InvalidField } from '../../errors.ts';
import {
  type ChannelProvider,
  type ExternalUser,
  type InboundEvent,
  type ProviderContext,
  ProviderError,
  WebhookRejected,
} from '../provider.ts';
import { headerValue, safeEqual } from '../signature.ts';
import { SECRET_TOKEN, telegramSettings, validateTelegramSettings } from './telegram.settings.ts';
import { callTelegram, type TelegramApi, TelegramError } from './telegram-api.client.ts';
import { downloadFile } from './telegram-files.transfer.ts';
import { chatIdParam, editMessage, sendMessage } from './telegram-outbound.sender.ts';
import { updateToEvents } from './telegram-update.converter.ts';

export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';
/** The update kinds this server converts; others are not asked for. */
export const ALLOWED_UPDATES = ['message', 'edited_message', 'my_chat_member'];
/** Long-poll timeout (seconds) and the client timeout around it (ms). */
export const POLL_TIMEOUT_S = 25;
const POLL_CLIENT_TIMEOUT_MS = (POLL_TIMEOUT_S + 10) * 1000;

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function apiOf(ctx: ProviderContext): TelegramApi {
  return { settings: telegramSettings(ctx.channel.settings), fetch: ctx.fetch };
}

/** A webhook secret Telegram accepts: 43 characters of [A-Za-z0-9_-]. */
export function generateWebhookSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function webhookUrl(publicUrl: string, channelId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/webhooks/telegramBot/${encodeURIComponent(channelId)}`;
}

async function getMe(api: TelegramApi): Promise<Json> {
  try {
    const me = await callTelegram<Json>(api, 'getMe');
    if (!isRecord(me) || (typeof me.id !== 'number' && typeof me.id !== 'string')) {
      throw new ProviderError('BAD_RESPONSE', 'Telegram getMe answered without a bot id', {
        retryable: true,
      });
    }
    return me;
  } catch (err) {
    // Telegram answers 404 to tokens it cannot even parse.
    if (err instanceof TelegramError && err.errorCode === 404) {
      throw new ProviderError('INVALID_CREDENTIALS', 'Telegram does not know this bot token', {
        retryable: false,
        status: 404,
      });
    }
    throw err;
  }
}

/** Parses the webhook body as a Telegram Update. */
function parseUpdate(rawBody: Buffer): Json {
  let body: unknown;
  try {
    body = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw new InvalidField('body', 'is not valid JSON', 'INVALID_JSON');
  }
  if (!isRecord(body)) throw new InvalidField('body', 'must be a Telegram Update object', 'INVALID_PAYLOAD');
  if (typeof body.update_id !== 'number' || !Number.isInteger(body.update_id)) {
    throw new InvalidField('body.update_id', 'is required: an integer', 'INVALID_PAYLOAD');
  }
  return body;
}

export const telegramBotProvider: ChannelProvider = {
  name: 'telegramBot',
  channelType: 'telegramBot',
  publicSettings: ['mode', 'apiRoot'],
  idempotentSend: false,

  validateSettings: validateTelegramSettings,

  canSend(settings) {
    return typeof settings.token === 'string' ? null : 'the telegramBot channel has no settings.token';
  },

  async register(ctx) {
    const api = apiOf(ctx);
    const me = await getMe(api);
    const source = String(me.id);
    if (api.settings.mode === 'webhook') {
      if (!ctx.publicUrl) {
        throw new ProviderError(
          'PUBLIC_URL_REQUIRED',
          'webhook mode needs the server public URL configured (or use mode "polling")',
          { retryable: false },
        );
      }
      const stored = api.settings.webhookSecret;
      const webhookSecret = stored && SECRET_TOKEN.test(stored) ? stored : generateWebhookSecret();
      await callTelegram(api, 'setWebhook', {
        url: webhookUrl(ctx.publicUrl, ctx.channel.id),
        secret_token: webhookSecret,
        allowed_updates: ALLOWED_UPDATES,
      });
      ctx.log.info(
        { channelId: ctx.channel.id, bot: me.username, mode: 'webhook' },
        'telegram bot registered',
      );
      return { source, settings: { webhookSecret } };
    }
    // getUpdates is refused while a webhook is set.
    await callTelegram(api, 'deleteWebhook', {});
    ctx.log.info({ channelId: ctx.channel.id, bot: me.username, mode: 'polling' }, 'telegram bot registered');
    // A secret from an earlier webhook mode must not keep opening the webhook endpoint.
    return { source, settings: { webhookSecret: null } };
  },

  async unregister(ctx) {
    const api = apiOf(ctx);
    if (api.settings.mode !== 'webhook') return;
    try {
      await callTelegram(api, 'deleteWebhook', {});
    } catch (err) {
      // A revoked token has no webhook left to delete.
      if (err instanceof ProviderError && err.code === 'INVALID_CREDENTIALS') {
        ctx.log.warn(
          { channelId: ctx.channel.id, code: err.code },
          'telegram deleteWebhook refused the token',
        );
        return;
      }
      throw err;
    }
  },

  async parseWebhook(ctx, request) {
    const expected = ctx.channel.settings.webhookSecret;
    if (typeof expected !== 'string' || expected === '') {
      throw new WebhookRejected('CHANNEL_MISCONFIGURED', 'the telegramBot channel has no webhook secret');
    }
    const given = headerValue(request.headers, SECRET_HEADER);
    if (given === undefined || !safeEqual(given, expected)) {
      throw new WebhookRejected('INVALID_SECRET_TOKEN', 'missing or wrong X-Telegram-Bot-Api-Secret-Token');
    }
    return { events: updateToEvents(parseUpdate(request.rawBody)) };
  },

  polls(channel) {
    return channel.settings.mode !== 'webhook';
  },

  async poll(ctx, cursor, signal) {
    const api = apiOf(ctx);
    const offset = cursor && /^-?\d+$/.test(cursor) ? Number(cursor) : undefined;
    let updates: unknown;
    try {
      updates = await callTelegram(
        api,
        'getUpdates',
        { offset, timeout: POLL_TIMEOUT_S, limit: 100, allowed_updates: ALLOWED_UPDATES },
        { signal, timeoutMs: POLL_CLIENT_TIMEOUT_MS },
      );
    } catch (err) {
      if (err instanceof TelegramError && err.errorCode === 409) {
        // A webhook is set, or another instance polls the same bot.
        throw new ProviderError('POLL_CONFLICT', err.message, {
          retryable: true,
          retryAfterMs: 1000,
          status: 409,
        });
      }
      throw err;
    }
    if (!Array.isArray(updates)) {
      throw new ProviderError('BAD_RESPONSE', 'Telegram getUpdates answered without an array', {
        retryable: true,
      });
    }
    const events: InboundEvent[] = [];
    let last: number | null = null;
    for (const update of updates) {
      if (!isRecord(update) || typeof update.update_id !== 'number') continue;
      last = last === null ? update.update_id : Math.max(last, update.update_id);
      events.push(...updateToEvents(update));
    }
    return { events, cursor: last === null ? cursor : String(last + 1) };
  },

  send(ctx, message) {
    return sendMessage(apiOf(ctx), message);
  },

  edit(ctx, message) {
    return editMessage(apiOf(ctx), message);
  },

  /** "typing…" in the client's chat while an operator types (Telegram shows it for about 5 s). */
  async sendTyping(ctx, to) {
    await callTelegram(apiOf(ctx), 'sendChatAction', {
      chat_id: chatIdParam(to.externalId),
      action: 'typing',
    });
  },

  async fetchProfile(ctx, externalUserId): Promise<ExternalUser | null> {
    let chat: unknown;
    try {
      chat = await callTelegram(apiOf(ctx), 'getChat', { chat_id: chatIdParam(externalUserId) });
    } catch (err) {
      // 400 "chat not found" (and malformed ids): nobody we can describe.
      if (err instanceof TelegramError && err.errorCode === 400) return null;
      throw err;
    }
    if (!isRecord(chat)) return null;
    const str = (v: unknown) => (typeof v === 'string' ? v : null);
    return {
      externalId: typeof chat.id === 'number' ? String(chat.id) : externalUserId,
      username: str(chat.username),
      firstName: str(chat.first_name) ?? str(chat.title),
      lastName: str(chat.last_name),
      // Telegram gives photo file ids, not URLs: a download would be needed.
      avatarUrl: null,
    };
  },

  async loadAttachment(ctx, ref) {
    const api = apiOf(ctx);
    let file: unknown;
    try {
      file = await callTelegram(api, 'getFile', { file_id: ref });
    } catch (err) {
      if (err instanceof TelegramError && /file is too big/i.test(err.description)) {
        throw new ProviderError('FILE_TOO_LARGE', "the file is larger than Telegram's 20 MB download limit", {
          retryable: false,
        });
      }
      throw err;
    }
    if (!isRecord(file) || typeof file.file_path !== 'string' || file.file_path === '') {
      throw new ProviderError('FILE_UNAVAILABLE', 'Telegram has no downloadable path for this file', {
        retryable: false,
      });
    }
    const size = typeof file.file_size === 'number' ? file.file_size : null;
    return downloadFile(api, file.file_path, size);
  },
};
