/**
 * Messenger Platform webhooks (Facebook pages, `object: page`; Instagram, `object: instagram`) →
 * unified events. One POST batches `entry[].messaging[]`; each item is a message (text,
 * attachments by URL — downloaded at once, the CDN links expire —, quick replies, Instagram story
 * replies and mentions), a postback (a button tap: stored as a message), a reaction (stored as its
 * emoji), an edit of the person's message, a `read` watermark, a `delivery` of our message ids, or
 * an echo of the page's own send (`is_echo`, ignored: no loops).
 * The message id `mid` is the de-duplication key.
 */
import type { MessageType } from '../../domain/message/message.ts';
import { isRecord, metaTime, str } from '../meta/meta-webhook.ts';
import type { InboundAttachment, InboundEvent } from '../provider.ts';

type Json = Record<string, unknown>;

const KINDS: Record<string, MessageType> = {
  image: 'image',
  video: 'video',
  audio: 'audio',
  file: 'file',
  story_mention: 'image',
  ig_reel: 'video',
  reel: 'video',
};

function attachmentsOf(list: unknown): {
  attachments: InboundAttachment[];
  type: MessageType;
  notes: string[];
} {
  const attachments: InboundAttachment[] = [];
  const notes: string[] = [];
  let type: MessageType = 'text';
  for (const a of Array.isArray(list) ? list.filter(isRecord) : []) {
    const kind = str(a.type) ?? '';
    const payload = isRecord(a.payload) ? a.payload : {};
    const url = str(payload.url);
    if (kind === 'story_mention') notes.push('Mentioned you in their story');
    if (kind === 'location' && isRecord(payload.coordinates)) {
      const { lat, long } = payload.coordinates;
      notes.push(`https://maps.google.com/?q=${Number(lat)},${Number(long)}`);
      type = 'location';
      continue;
    }
    if (url && Object.hasOwn(KINDS, kind)) {
      attachments.push({ ref: url });
      if (type === 'text') type = KINDS[kind]!;
    } else if (url) {
      notes.push(url); // a share or fallback: a link to show
    }
  }
  return { attachments, type, notes };
}

function messageEvent(item: Json, senderId: string, at: Date): InboundEvent | null {
  const m = item.message as Json;
  const mid = str(m.mid);
  if (!mid) return null;
  if (m.is_echo === true) return null; // the page's own send coming back
  const { attachments, type, notes } = attachmentsOf(m.attachments);
  const replyTo = isRecord(m.reply_to) ? m.reply_to : {};
  const story = isRecord(replyTo.story) ? replyTo.story : null;
  if (story) notes.unshift(`Replied to your story ${str(story.url) ?? ''}`.trim());
  const quick = isRecord(m.quick_reply) ? str(m.quick_reply.payload) : null;
  const text =
    [str(m.text) ?? (quick && !str(m.text) ? quick : null), ...notes].filter(Boolean).join('\n') || null;
  if (!text && attachments.length === 0) {
    return {
      kind: 'unsupported',
      from: { externalId: senderId },
      description: 'empty Messenger message',
      timestamp: at,
    };
  }
  return {
    kind: 'message',
    externalMessageId: mid,
    from: { externalId: senderId },
    type,
    text,
    attachments,
    timestamp: at,
  };
}

/**
 * A reaction to a message (`message_reactions`): shown as the emoji, like WhatsApp's, kept once per
 * person, message and moment (Meta retries carry the same three). Taking a reaction back shows nothing.
 */
function reactionEvent(r: Json, senderId: string, timestamp: unknown, at: Date): InboundEvent {
  const from = { externalId: senderId };
  const mid = str(r.mid);
  const emoji = str(r.emoji) ?? str(r.reaction);
  if (r.action === 'unreact' || !mid || !emoji) {
    return { kind: 'unsupported', from, description: 'reaction removed', timestamp: at };
  }
  return {
    kind: 'message',
    externalMessageId: `${mid}:reaction:${senderId}:${String(timestamp)}`,
    from,
    type: 'text',
    text: emoji,
    timestamp: at,
  };
}

/** The events of a Messenger or Instagram webhook's entries. */
export function messengerEvents(entries: Json[], pageIds: Set<string>): InboundEvent[] {
  const events: InboundEvent[] = [];
  for (const entry of entries) {
    const items = Array.isArray(entry.messaging) ? entry.messaging.filter(isRecord) : [];
    for (const item of items) {
      const senderId = isRecord(item.sender) ? str(item.sender.id) : null;
      if (!senderId || pageIds.has(senderId)) continue; // our own page or account
      const at = metaTime(item.timestamp, 'ms');
      const from = { externalId: senderId };
      if (isRecord(item.message)) {
        const event = messageEvent(item, senderId, at);
        if (event) events.push(event);
      } else if (isRecord(item.postback)) {
        const p = item.postback;
        const text = str(p.title) ?? str(p.payload);
        const mid = str(p.mid) ?? `postback:${senderId}:${String(item.timestamp)}`;
        if (text)
          events.push({ kind: 'message', externalMessageId: mid, from, type: 'text', text, timestamp: at });
      } else if (isRecord(item.reaction)) {
        events.push(reactionEvent(item.reaction, senderId, item.timestamp, at));
      } else if (isRecord(item.message_edit)) {
        const mid = str(item.message_edit.mid);
        if (mid) {
          const text = typeof item.message_edit.text === 'string' ? item.message_edit.text : null;
          events.push({ kind: 'edited', externalMessageId: mid, from, text, timestamp: at });
        }
      } else if (isRecord(item.read)) {
        // Everything we sent up to the watermark (ms) is read.
        const watermark = metaTime(item.read.watermark, 'ms');
        events.push({ kind: 'read', from, upToTime: watermark, timestamp: at });
      } else if (isRecord(item.delivery)) {
        const mids = Array.isArray(item.delivery.mids) ? item.delivery.mids : [];
        for (const mid of mids) {
          if (typeof mid === 'string') {
            events.push({ kind: 'delivery', externalMessageId: mid, status: 'delivered', timestamp: at });
          }
        }
      } else {
        events.push({ kind: 'unsupported', from, description: 'Messenger event', timestamp: at });
      }
    }
  }
  return events;
}
