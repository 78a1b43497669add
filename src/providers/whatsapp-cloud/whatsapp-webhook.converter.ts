/**
 * WhatsApp Cloud API webhooks → unified events. One POST carries `entry[].changes[]` (batched), each
 * `value` with `contacts[]` (the sender's profile name), `messages[]` and `statuses[]`; only changes
 * for this channel's phone number id are taken (one app may serve several numbers).
 *
 * Senders are named by their E.164 number (`wa_id` "16505551234" → "+16505551234"), the same
 * client whatever spelling another channel or the API uses. The message id (`wamid…`) is the
 * de-duplication key; receipts are keyed by wamid + status by the pipeline's status order.
 */
import type { MessageType } from '../../domain/message/message.ts';
import { isRecord, metaTime, str } from '../meta/meta-webhook.ts';
import { toE164 } from '../phone.ts';
import type { ExternalUser, InboundAttachment, InboundEvent } from '../provider.ts';

type Json = Record<string, unknown>;

/** Media kinds WhatsApp sends, and how we store them. */
const MEDIA: Record<string, MessageType> = {
  image: 'image',
  video: 'video',
  audio: 'audio',
  document: 'file',
  sticker: 'image',
};

/** A client's id: the E.164 form of the WhatsApp id (kept as given when it is no phone number). */
export function clientIdOf(waId: string): string {
  return toE164(waId) ?? waId;
}

function sender(waId: string, names: Map<string, string>): ExternalUser {
  const phone = toE164(waId);
  return { externalId: phone ?? waId, firstName: names.get(waId) ?? null, phone };
}

/** The text a location shows: its name and address, and a map link. */
function locationText(l: Json): string {
  const lat = Number(l.latitude);
  const lng = Number(l.longitude);
  const label = [str(l.name), str(l.address)].filter(Boolean).join(', ');
  const where = Number.isFinite(lat) && Number.isFinite(lng) ? `${lat},${lng}` : '';
  return [label, where && `https://maps.google.com/?q=${where}`].filter(Boolean).join(' ') || 'Location';
}

/** The text shared contacts show: each name with its phone numbers and e-mails. */
function contactsText(contacts: unknown[]): string {
  return contacts
    .filter(isRecord)
    .map((c) => {
      const name = isRecord(c.name) ? (str(c.name.formatted_name) ?? str(c.name.first_name) ?? '') : '';
      const phones = Array.isArray(c.phones) ? c.phones.filter(isRecord).map((p) => str(p.phone)) : [];
      const emails = Array.isArray(c.emails) ? c.emails.filter(isRecord).map((e) => str(e.email)) : [];
      return [name, ...phones, ...emails].filter(Boolean).join(' ');
    })
    .join('\n');
}

function messageEvent(m: Json, names: Map<string, string>): InboundEvent | null {
  const id = str(m.id);
  const from = str(m.from);
  if (!id || !from) return null;
  const base = { externalMessageId: id, from: sender(from, names), timestamp: metaTime(m.timestamp, 's') };
  const type = str(m.type) ?? 'unknown';
  const body = isRecord(m[type]) ? (m[type] as Json) : {};
  if (type === 'text') return { kind: 'message', ...base, type: 'text', text: str(body.body) ?? '' };
  if (Object.hasOwn(MEDIA, type)) {
    const mediaId = str(body.id);
    if (!mediaId) return null;
    const attachment: InboundAttachment = {
      ref: `${type}:${mediaId}`,
      name: str(body.filename),
      mimeType: str(body.mime_type)?.split(';')[0]?.trim() ?? null,
    };
    return {
      kind: 'message',
      ...base,
      type: MEDIA[type]!,
      text: str(body.caption),
      attachments: [attachment],
    };
  }
  if (type === 'location') return { kind: 'message', ...base, type: 'location', text: locationText(body) };
  if (type === 'contacts' && Array.isArray(m.contacts)) {
    return { kind: 'message', ...base, type: 'contact', text: contactsText(m.contacts) };
  }
  if (type === 'interactive') {
    const reply = isRecord(body.button_reply)
      ? body.button_reply
      : isRecord(body.list_reply)
        ? body.list_reply
        : null;
    const text = reply ? [str(reply.title), str(reply.description)].filter(Boolean).join(' — ') : null;
    if (text) return { kind: 'message', ...base, type: 'text', text };
  }
  if (type === 'button') {
    const text = str(body.text) ?? str(body.payload);
    if (text) return { kind: 'message', ...base, type: 'text', text };
  }
  if (type === 'reaction') {
    const emoji = str(body.emoji);
    // An empty emoji removes a reaction: nothing to show.
    if (emoji) return { kind: 'message', ...base, type: 'text', text: emoji };
    return {
      kind: 'unsupported',
      from: base.from,
      description: 'reaction removed',
      timestamp: base.timestamp,
    };
  }
  return {
    kind: 'unsupported',
    from: base.from,
    description: `WhatsApp message of type ${type}`,
    timestamp: base.timestamp,
  };
}

function statusEvent(s: Json): InboundEvent | null {
  const id = str(s.id);
  const status = str(s.status);
  if (!id || (status !== 'delivered' && status !== 'read' && status !== 'failed')) return null;
  const errors = Array.isArray(s.errors) ? s.errors.filter(isRecord) : [];
  const error = errors[0]
    ? `${errors[0].code ?? ''} ${str(errors[0].title) ?? str(errors[0].message) ?? ''}`.trim()
    : null;
  return { kind: 'delivery', externalMessageId: id, status, error, timestamp: metaTime(s.timestamp, 's') };
}

/** The events of a WhatsApp webhook's entries for one phone number id. */
export function whatsappEvents(entries: Json[], phoneNumberId: string): InboundEvent[] {
  const events: InboundEvent[] = [];
  for (const entry of entries) {
    const changes = Array.isArray(entry.changes) ? entry.changes.filter(isRecord) : [];
    for (const change of changes) {
      if (change.field !== 'messages' || !isRecord(change.value)) continue;
      const value = change.value;
      const metadata = isRecord(value.metadata) ? value.metadata : {};
      if (str(metadata.phone_number_id) !== phoneNumberId) continue;
      const names = new Map<string, string>();
      for (const c of Array.isArray(value.contacts) ? value.contacts.filter(isRecord) : []) {
        const name = isRecord(c.profile) ? str(c.profile.name) : null;
        const waId = str(c.wa_id);
        if (waId && name) names.set(waId, name);
      }
      for (const m of Array.isArray(value.messages) ? value.messages.filter(isRecord) : []) {
        const event = messageEvent(m, names);
        if (event) events.push(event);
      }
      for (const s of Array.isArray(value.statuses) ? value.statuses.filter(isRecord) : []) {
        const event = statusEvent(s);
        if (event) events.push(event);
      }
    }
  }
  return events;
}
