/**
 * Telegram Updates → unified inbound events: one function for webhooks and long polling.
 *
 * `message` becomes a 'message' event, `edited_message` an 'edited' one; the externalMessageId is
 * `<chat.id>:<message_id>` (message ids are unique per chat only). `my_chat_member` turning the bot
 * `kicked` in a private chat — the user blocked the bot — is a 'closed' event: the user ended the
 * conversation, and nothing more can reach them (other member changes: a user who unblocks the bot
 * writes again, which is a message). Everything this server does not
 * handle (other update kinds, polls, service messages…) becomes an 'unsupported' event: conversion
 * never throws, so one odd update cannot stall a polling cursor.
 */
import type { MessageType } from '../../domain/message/message.ts';
import type { ExternalUser, InboundAttachment, InboundEvent } from '../provider.ts';

type Json = Record<string, unknown>;

const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const idOf = (v: unknown): string | null =>
  typeof v === 'number' && Number.isFinite(v) ? String(v) : typeof v === 'string' && v !== '' ? v : null;

/** Message fields that describe a message rather than being its content. */
const META_FIELDS = new Set([
  'message_id',
  'message_thread_id',
  'from',
  'sender_chat',
  'sender_boost_count',
  'sender_business_bot',
  'business_connection_id',
  'date',
  'edit_date',
  'chat',
  'forward_origin',
  'forward_from',
  'forward_from_chat',
  'forward_from_message_id',
  'forward_signature',
  'forward_sender_name',
  'forward_date',
  'is_topic_message',
  'is_automatic_forward',
  'is_from_offline',
  'reply_to_message',
  'external_reply',
  'quote',
  'reply_to_story',
  'via_bot',
  'has_protected_content',
  'media_group_id',
  'author_signature',
  'entities',
  'caption',
  'caption_entities',
  'show_caption_above_media',
  'has_media_spoiler',
  'link_preview_options',
  'effect_id',
  'reply_markup',
]);

/** A Telegram User (or, for messages sent on behalf of a chat, that Chat) as an ExternalUser. */
export function userOf(v: unknown): ExternalUser | null {
  if (!isRecord(v)) return null;
  const externalId = idOf(v.id);
  if (!externalId) return null;
  return {
    externalId,
    username: str(v.username),
    firstName: str(v.first_name) ?? str(v.title),
    lastName: str(v.last_name),
  };
}

function dateOf(seconds: unknown): Date {
  const s = num(seconds);
  return s === null ? new Date() : new Date(s * 1000);
}

function file(
  v: unknown,
  defaults: { name?: string | null; mimeType?: string | null } = {},
): InboundAttachment | null {
  if (!isRecord(v)) return null;
  const ref = str(v.file_id);
  if (!ref) return null;
  return {
    ref,
    name: str(v.file_name) ?? defaults.name ?? null,
    mimeType: str(v.mime_type) ?? defaults.mimeType ?? null,
    size: num(v.file_size),
  };
}

/** The largest of a photo's sizes (by pixels, then bytes). */
function largestPhoto(sizes: unknown): InboundAttachment | null {
  if (!Array.isArray(sizes)) return null;
  let best: Json | null = null;
  const area = (p: Json) => (num(p.width) ?? 0) * (num(p.height) ?? 0);
  for (const size of sizes) {
    if (!isRecord(size) || !str(size.file_id)) continue;
    if (
      !best ||
      area(size) > area(best) ||
      (area(size) === area(best) && (num(size.file_size) ?? 0) > (num(best.file_size) ?? 0))
    ) {
      best = size;
    }
  }
  return best && file(best, { mimeType: 'image/jpeg' });
}

function stickerMime(sticker: Json): string {
  if (sticker.is_animated === true) return 'application/x-tgsticker';
  if (sticker.is_video === true) return 'video/webm';
  return 'image/webp';
}

function contactText(contact: Json): string {
  const name = [str(contact.first_name), str(contact.last_name)].filter(Boolean).join(' ');
  const phone = str(contact.phone_number);
  return [name, phone].filter(Boolean).join(', ');
}

interface Content {
  type: MessageType;
  text: string | null;
  attachments: InboundAttachment[];
}

/** What a message carries, or null when it is nothing we handle. */
function contentOf(m: Json): Content | null {
  const caption = str(m.caption);
  const withFile = (
    type: MessageType,
    attachment: InboundAttachment | null,
    text = caption,
  ): Content | null => (attachment ? { type, text, attachments: [attachment] } : null);
  if (typeof m.text === 'string') return { type: 'text', text: m.text, attachments: [] };
  if (m.photo !== undefined) return withFile('image', largestPhoto(m.photo));
  // An animation (GIF) message also carries `document`: look at it first.
  if (m.animation !== undefined) return withFile('video', file(m.animation, { mimeType: 'video/mp4' }));
  if (m.document !== undefined) return withFile('file', file(m.document));
  if (m.voice !== undefined) return withFile('audio', file(m.voice, { mimeType: 'audio/ogg' }));
  if (m.audio !== undefined) return withFile('audio', file(m.audio));
  if (m.video !== undefined) return withFile('video', file(m.video, { mimeType: 'video/mp4' }));
  if (m.video_note !== undefined) return withFile('video', file(m.video_note, { mimeType: 'video/mp4' }));
  if (isRecord(m.sticker)) {
    return withFile('image', file(m.sticker, { mimeType: stickerMime(m.sticker) }), str(m.sticker.emoji));
  }
  // A venue carries its location too.
  if (isRecord(m.location)) {
    const lat = num(m.location.latitude);
    const lon = num(m.location.longitude);
    if (lat === null || lon === null) return null;
    return { type: 'location', text: `${lat},${lon}`, attachments: [] };
  }
  if (isRecord(m.contact)) {
    const text = contactText(m.contact);
    return text ? { type: 'contact', text, attachments: [] } : null;
  }
  return null;
}

function describe(m: Json): string {
  const fields = Object.keys(m).filter((k) => !META_FIELDS.has(k));
  return fields.length > 0
    ? `Telegram message with ${fields.join(', ')}`
    : 'Telegram message without content';
}

function messageEvent(m: unknown, edited: boolean): InboundEvent {
  const kind = edited ? 'edited_message' : 'message';
  if (!isRecord(m))
    return { kind: 'unsupported', description: `malformed Telegram ${kind}`, timestamp: new Date() };
  const timestamp = dateOf(edited ? (m.edit_date ?? m.date) : m.date);
  // Messages on behalf of a chat (channels, anonymous admins) have sender_chat instead of a person.
  const from = userOf(m.from) ?? userOf(m.sender_chat) ?? userOf(m.chat);
  const chatId = isRecord(m.chat) ? idOf(m.chat.id) : null;
  const messageId = idOf(m.message_id);
  if (!from || !chatId || !messageId) {
    return { kind: 'unsupported', from, description: `malformed Telegram ${kind}`, timestamp };
  }
  const externalMessageId = `${chatId}:${messageId}`;
  if (edited) {
    return { kind: 'edited', externalMessageId, from, text: str(m.text) ?? str(m.caption), timestamp };
  }
  const content = contentOf(m);
  if (!content) return { kind: 'unsupported', from, description: describe(m), timestamp };
  return { kind: 'message', externalMessageId, from, ...content, timestamp };
}

/** The bot's membership in a chat changed: in a private chat, `kicked` is the user blocking the bot. */
function memberEvent(m: unknown): InboundEvent {
  const timestamp = isRecord(m) ? dateOf(m.date) : new Date();
  const from = isRecord(m) ? userOf(m.from) : null;
  const chat = isRecord(m) && isRecord(m.chat) ? m.chat : null;
  const status = isRecord(m) && isRecord(m.new_chat_member) ? str(m.new_chat_member.status) : null;
  if (from && chat?.type === 'private' && status === 'kicked')
    return { kind: 'closed', from, reason: 'blocked the bot', timestamp };
  return {
    kind: 'unsupported',
    from,
    description: `Telegram my_chat_member: ${status ?? 'unknown'} in a ${str(chat?.type) ?? 'unknown'} chat`,
    timestamp,
  };
}

/** The events of one Update (an object with `update_id` and one update field). */
export function updateToEvents(update: Json): InboundEvent[] {
  if (update.message !== undefined) return [messageEvent(update.message, false)];
  if (update.my_chat_member !== undefined) return [memberEvent(update.my_chat_member)];
  if (update.edited_message !== undefined) return [messageEvent(update.edited_message, true)];
  const kind = Object.keys(update).find((k) => k !== 'update_id') ?? 'empty';
  const body = update[kind];
  const from = isRecord(body) ? (userOf(body.from) ?? null) : null;
  const seconds = isRecord(body) ? body.date : undefined;
  return [
    {
      kind: 'unsupported',
      from,
      description: `unsupported Telegram update: ${kind}`,
      timestamp: dateOf(seconds),
    },
  ];
}
