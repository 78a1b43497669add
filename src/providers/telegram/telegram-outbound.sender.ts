/**
 * Outgoing messages to Telegram: text by sendMessage (JSON), attachments by multipart sendPhoto /
 * sendDocument (one message each, the text as the first one's caption), edits by editMessageText.
 *
 * Telegram has no idempotency key: a retried send after a partial failure may repeat what got through.
 * Our message id is the `<chat_id>:<message_id>` of the first Telegram message sent.
 */
import { type OutboundMessage, ProviderError } from '../provider.ts';
import { callTelegram, type TelegramApi, TelegramError } from './telegram-api.client.ts';
import { readUpload, sendsAsPhoto } from './telegram-files.transfer.ts';

export const TEXT_LIMIT = 4096;
export const CAPTION_LIMIT = 1024;
const UPLOAD_TIMEOUT_MS = 120_000;

interface SentMessage {
  message_id: number;
}

/** chat_id as Telegram takes it: an integer for numeric ids, the string (e.g. "@channel") otherwise. */
export function chatIdParam(chatId: string): number | string {
  const n = Number(chatId);
  return /^-?\d+$/.test(chatId) && Number.isSafeInteger(n) ? n : chatId;
}

/** `<chat_id>:<message_id>` → its parts (chat ids may be negative; the last colon separates). */
export function parseExternalId(externalId: string): { chatId: string; messageId: number } {
  const at = externalId.lastIndexOf(':');
  const chatId = externalId.slice(0, at);
  const messageId = Number(externalId.slice(at + 1));
  if (at <= 0 || !Number.isInteger(messageId) || messageId <= 0) {
    throw new ProviderError(
      'INVALID_EXTERNAL_ID',
      `"${externalId}" is not a Telegram message id <chat>:<id>`,
      {
        retryable: false,
      },
    );
  }
  return { chatId, messageId };
}

/** Splits text into parts of at most `limit` UTF-16 units, preferring line or word breaks. */
export function splitText(text: string, limit = TEXT_LIMIT): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    let cut = limit;
    const code = rest.charCodeAt(cut - 1);
    if (code >= 0xd800 && code <= 0xdbff) cut--; // never split a surrogate pair
    const window = rest.slice(0, cut);
    const br = Math.max(window.lastIndexOf('\n'), window.lastIndexOf(' '));
    if (br >= limit / 2) cut = br + 1;
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest.length > 0) parts.push(rest);
  return parts;
}

function sentId(chatId: string, sent: SentMessage | null | undefined): string {
  if (!sent || typeof sent.message_id !== 'number') {
    throw new ProviderError('BAD_RESPONSE', 'Telegram answered a send without a message_id', {
      retryable: false,
    });
  }
  return `${chatId}:${sent.message_id}`;
}

export async function sendMessage(
  api: TelegramApi,
  message: OutboundMessage,
): Promise<{ externalId: string }> {
  const chatId = message.to.externalId;
  const text = message.text ?? '';
  if (!text.trim() && message.attachments.length === 0) {
    throw new ProviderError('EMPTY_MESSAGE', 'a Telegram message needs text or attachments', {
      retryable: false,
    });
  }
  const ids: string[] = [];
  const hasText = text.trim() !== '';
  const captioned = hasText && message.attachments.length > 0 && text.length <= CAPTION_LIMIT;
  if (hasText && !captioned) {
    for (const part of splitText(text)) {
      const sent = await callTelegram<SentMessage>(api, 'sendMessage', {
        chat_id: chatIdParam(chatId),
        text: part,
      });
      ids.push(sentId(chatId, sent));
    }
  }
  for (const [i, attachment] of message.attachments.entries()) {
    const data = await readUpload(attachment);
    const asPhoto = sendsAsPhoto(attachment);
    const form = new FormData();
    form.append('chat_id', chatId);
    if (i === 0 && captioned) form.append('caption', text);
    const fileName = attachment.name ?? (asPhoto ? 'photo.jpg' : 'file');
    form.append(asPhoto ? 'photo' : 'document', new Blob([data], { type: attachment.mimeType }), fileName);
    const sent = await callTelegram<SentMessage>(api, asPhoto ? 'sendPhoto' : 'sendDocument', form, {
      timeoutMs: UPLOAD_TIMEOUT_MS,
    });
    ids.push(sentId(chatId, sent));
  }
  return { externalId: ids[0]! };
}

export async function editMessage(
  api: TelegramApi,
  message: OutboundMessage & { externalId: string },
): Promise<void> {
  const { chatId, messageId } = parseExternalId(message.externalId);
  const text = message.text ?? '';
  if (!text.trim()) {
    throw new ProviderError('EMPTY_MESSAGE', 'Telegram cannot edit a message to empty text', {
      retryable: false,
    });
  }
  const target = { chat_id: chatIdParam(chatId), message_id: messageId };
  try {
    await callTelegram(api, 'editMessageText', { ...target, text });
  } catch (err) {
    if (!(err instanceof TelegramError) || err.errorCode !== 400) throw err;
    // A retried edit that already went through: the message says what we want.
    if (/message is not modified/i.test(err.description)) return;
    // A photo or document: its text is the caption.
    if (/no text in the message to edit/i.test(err.description)) {
      try {
        await callTelegram(api, 'editMessageCaption', { ...target, caption: text });
      } catch (captionErr) {
        if (captionErr instanceof TelegramError && /message is not modified/i.test(captionErr.description))
          return;
        throw captionErr;
      }
      return;
    }
    throw err;
  }
}
