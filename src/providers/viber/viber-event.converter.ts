/**
 * Viber callbacks as unified events (https://developers.viber.com/docs/api/rest-bot-api/#callbacks):
 * `message` (text, picture, video, file, sticker, contact, location, url), `subscribed`,
 * `unsubscribed` (the user stops taking our messages: their session closes and they are unreachable),
 * `conversation_started` (they opened the chat), `delivered` / `seen` / `failed` for our messages.
 * Message tokens are exact decimal strings (viber-json.ts); they de-duplicate messages.
 */
import { InvalidField } from '../../errors.ts';
import type { ExternalUser, InboundAttachment, InboundEvent } from '../provider.ts';

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function token(body: Json): string {
  const t = body.message_token;
  if (typeof t !== 'string' || !/^-?\d{1,20}$/.test(t))
    throw new InvalidField('body.message_token', 'is required: an integer', 'INVALID_PAYLOAD');
  return t;
}

function timestampOf(body: Json): Date {
  const t = body.timestamp;
  return typeof t === 'number' && Number.isFinite(t) && t > 0 && t < 253402300800000
    ? new Date(t)
    : new Date();
}

/** A Viber user object (`sender`, `user`) as an external user. */
export function viberUser(v: unknown, path: string): ExternalUser {
  if (!isRecord(v) || !str(v.id)) throw new InvalidField(`${path}.id`, 'is required', 'INVALID_PAYLOAD');
  const name = str(v.name)?.trim() ?? '';
  const [firstName, ...rest] = name ? name.split(/\s+/) : [];
  return {
    externalId: v.id as string,
    firstName: firstName ?? null,
    lastName: rest.join(' ') || null,
    avatarUrl: str(v.avatar),
  };
}

function userId(body: Json): ExternalUser {
  const id = str(body.user_id);
  if (!id) throw new InvalidField('body.user_id', 'is required', 'INVALID_PAYLOAD');
  return { externalId: id };
}

function messageOf(body: Json): InboundEvent {
  const from = viberUser(body.sender, 'body.sender');
  const m = body.message;
  if (!isRecord(m) || !str(m.type))
    throw new InvalidField('body.message.type', 'is required', 'INVALID_PAYLOAD');
  const base = {
    kind: 'message' as const,
    externalMessageId: token(body),
    from,
    timestamp: timestampOf(body),
  };
  const text = str(m.text);
  const media = (name: string | null = null, mimeType: string | null = null): InboundAttachment[] => {
    const url = str(m.media);
    if (!url || !/^https?:\/\//i.test(url))
      throw new InvalidField('body.message.media', 'is required: an http(s) URL', 'INVALID_PAYLOAD');
    const size = typeof m.size === 'number' && m.size >= 0 ? m.size : null;
    return [{ ref: url, name, mimeType, size }];
  };
  switch (m.type) {
    case 'text':
      return { ...base, type: 'text', text };
    case 'url':
      return { ...base, type: 'text', text: str(m.media) ?? text };
    case 'picture':
      return { ...base, type: 'image', text, attachments: media(str(m.file_name)) };
    case 'sticker':
      return { ...base, type: 'image', text: null, attachments: media(null, 'image/png') };
    case 'video':
      return { ...base, type: 'video', text, attachments: media(str(m.file_name)) };
    case 'file':
      return { ...base, type: 'file', text: null, attachments: media(str(m.file_name)) };
    case 'location': {
      const loc = isRecord(m.location) ? m.location : {};
      if (typeof loc.lat !== 'number' || typeof loc.lon !== 'number')
        throw new InvalidField('body.message.location', 'needs numbers lat and lon', 'INVALID_PAYLOAD');
      return { ...base, type: 'location', text: `${loc.lat},${loc.lon}` };
    }
    case 'contact': {
      const c = isRecord(m.contact) ? m.contact : {};
      const parts = [str(c.name), str(c.phone_number)].filter(Boolean);
      return { ...base, type: 'contact', text: parts.join(' ') || null };
    }
    default:
      return {
        kind: 'unsupported',
        from,
        description: `message type ${String(m.type)}`,
        timestamp: base.timestamp,
      };
  }
}

/** The events of one callback (`webhook` checks are answered before, in the provider's probe). */
export function viberEvents(body: unknown): InboundEvent[] {
  if (!isRecord(body) || !str(body.event))
    throw new InvalidField('body.event', 'is required: a Viber callback', 'INVALID_PAYLOAD');
  const at = timestampOf(body);
  switch (body.event) {
    case 'message':
      return [messageOf(body)];
    case 'subscribed':
    case 'conversation_started':
      return [{ kind: 'presence', from: viberUser(body.user, 'body.user'), online: true, timestamp: at }];
    case 'unsubscribed':
      return [
        {
          kind: 'closed',
          from: userId(body),
          reason: 'the client unsubscribed from the Viber bot',
          unreachable: true,
          timestamp: at,
        },
      ];
    case 'delivered':
    case 'seen':
    case 'failed':
      return [
        {
          kind: 'delivery',
          externalMessageId: token(body),
          status: body.event === 'seen' ? 'read' : body.event,
          error: body.event === 'failed' ? (str(body.desc) ?? 'Viber could not deliver the message') : null,
          timestamp: at,
        },
      ];
    default:
      return [{ kind: 'unsupported', description: `event ${String(body.event)}`, timestamp: at }];
  }
}
