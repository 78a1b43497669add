/**
 * Step 5 of the guide — the Test messenger's message converted to the unified message (the guide's
 * `TestIncomingMessageConverter.Convert(TestIncomingMessage) → MessagingMessage`).
 *
 * Wire format of a webhook body (JSON):
 *   {"id": "m-1", "sender": "<user id>", "recipient": "<page id>", "message": "text",
 *    "timestamp": 1767261600000, "attachments": [{"uploadUrl": "https://…/photo.png", "fileType": "image/png"}]}
 * `timestamp` is Unix time in milliseconds; `message` may be absent when there are attachments.
 *
 * What the guide's MessagingMessage carries maps onto the unified InboundEvent like this:
 *   Id → externalMessageId (the messenger's id: the de-duplication key within the channel),
 *   Sender → from.externalId, Message → text, Timestamp → timestamp, MessageType → type,
 *   Attachments (UploadUrl, FileType) → attachments (ref, mimeType, name from the URL).
 *   Recipient is checked against the channel's Source here; ChannelId, MessageDirection, Source
 *   and ChannelName are known to the pipeline from the webhook URL (`/webhooks/test/<channelId>`).
 */
import type { MessageType } from '../../src/domain/message/message.ts';
import { InvalidField } from '../../src/errors.ts';
import type { InboundAttachment, InboundEvent } from '../../src/providers/provider.ts';

/** An attachment as the Test messenger describes it: where to download it, and its MIME type. */
export interface TestAttachment {
  uploadUrl: string;
  fileType: string;
}

/** The webhook body (the guide's TestIncomingMessage). */
export interface TestIncomingMessage {
  id: string;
  sender: string;
  recipient: string;
  message?: string | null;
  timestamp: number;
  attachments?: TestAttachment[];
}

const MAX_TEXT = 10_000;
const MAX_ATTACHMENTS = 10;

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function id(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > 200) {
    throw new InvalidField(
      path,
      'is required: a non-empty string of at most 200 characters',
      'INVALID_PAYLOAD',
    );
  }
  return v;
}

function text(v: unknown): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string' || v.length > MAX_TEXT) {
    throw new InvalidField(
      'body.message',
      `must be a string of at most ${MAX_TEXT} characters`,
      'INVALID_PAYLOAD',
    );
  }
  return v;
}

function timestamp(v: unknown): Date {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new InvalidField('body.timestamp', 'is required: Unix time in milliseconds', 'INVALID_PAYLOAD');
  }
  return new Date(v);
}

/** The last path segment of a download URL, as the guide's FileUtilities.GetFileNameFromUrl. */
export function fileNameFromUrl(url: string): string | null {
  const last = new URL(url).pathname.split('/').filter(Boolean).pop();
  if (!last) return null;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

function attachments(v: unknown): InboundAttachment[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > MAX_ATTACHMENTS) {
    throw new InvalidField(
      'body.attachments',
      `must be an array of at most ${MAX_ATTACHMENTS}`,
      'INVALID_PAYLOAD',
    );
  }
  return v.map((a: unknown, i) => {
    const path = `body.attachments[${i}]`;
    if (!isRecord(a) || typeof a.uploadUrl !== 'string' || !/^https?:\/\/\S+$/i.test(a.uploadUrl)) {
      throw new InvalidField(`${path}.uploadUrl`, 'is required: an http(s) URL', 'INVALID_PAYLOAD');
    }
    const fileType = typeof a.fileType === 'string' && a.fileType !== '' ? a.fileType : null;
    return { ref: a.uploadUrl, name: fileNameFromUrl(a.uploadUrl), mimeType: fileType };
  });
}

/** The unified message type, from the first attachment's MIME type. */
export function messageTypeOf(list: InboundAttachment[]): MessageType {
  if (list.length === 0) return 'text';
  const mime = list[0]?.mimeType ?? '';
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('audio/')) return 'audio';
  if (mime.startsWith('video/')) return 'video';
  return 'file';
}

/**
 * Parses and converts a webhook body. `source` is the channel's page id (learned at registration):
 * a message addressed to another page is refused, as the guide finds the channel by its recipient.
 */
export function convertIncoming(rawBody: Buffer, source: string | null): InboundEvent {
  let body: unknown;
  try {
    body = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw new InvalidField('body', 'is not valid JSON', 'INVALID_JSON');
  }
  if (!isRecord(body)) throw new InvalidField('body', 'must be a Test message object', 'INVALID_PAYLOAD');
  const recipient = id(body.recipient, 'body.recipient');
  if (source !== null && recipient !== source) {
    throw new InvalidField('body.recipient', `is not this channel's page (${source})`, 'RECIPIENT_MISMATCH');
  }
  const list = attachments(body.attachments);
  const message = text(body.message);
  if (message === null && list.length === 0) {
    throw new InvalidField('body.message', 'a message needs text or attachments', 'INVALID_PAYLOAD');
  }
  return {
    kind: 'message',
    externalMessageId: id(body.id, 'body.id'),
    from: { externalId: id(body.sender, 'body.sender') },
    type: messageTypeOf(list),
    text: message,
    attachments: list,
    timestamp: timestamp(body.timestamp),
  };
}
