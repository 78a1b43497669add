/**
 * Sending through Viber's `send_message`: text, `picture` (JPEG/PNG/GIF up to 1 MB, with the text
 * as its description) and `file` (anything else, up to 50 MB), each attachment its own message, by
 * URL: Viber fetches our signed download link, so it must be absolute (OMNILINE_PUBLIC_URL).
 */
import { type OutboundAttachment, type OutboundMessage, ProviderError } from '../provider.ts';
import { callViber, type ViberApi } from './viber-api.client.ts';

const MB = 1024 * 1024;
export const PICTURE_LIMIT = 1 * MB;
export const FILE_LIMIT = 50 * MB;
/** Viber's cap on a picture's description. */
const PICTURE_TEXT_MAX = 768;
const PICTURE_TYPES = ['image/jpeg', 'image/png', 'image/gif'];

function sender(api: ViberApi): Record<string, string> {
  return {
    name: api.settings.senderName,
    ...(api.settings.senderAvatar && { avatar: api.settings.senderAvatar }),
  };
}

function mediaUrl(a: OutboundAttachment): string {
  if (!/^https?:\/\//i.test(a.url)) {
    throw new ProviderError(
      'PUBLIC_URL_REQUIRED',
      'Viber fetches files by URL: configure OMNILINE_PUBLIC_URL so it can reach them',
      { retryable: false },
    );
  }
  return a.url;
}

export function isPicture(a: Pick<OutboundAttachment, 'mimeType' | 'size'>): boolean {
  return PICTURE_TYPES.includes(a.mimeType.toLowerCase()) && a.size <= PICTURE_LIMIT;
}

/** The send_message bodies of one of our messages, in order. */
export function viberBodies(api: ViberApi, message: OutboundMessage): Record<string, unknown>[] {
  const common = {
    receiver: message.to.externalId,
    min_api_version: 1,
    sender: sender(api),
    tracking_data: message.id,
  };
  const bodies: Record<string, unknown>[] = [];
  let text = message.text;
  for (const a of message.attachments) {
    if (a.size > FILE_LIMIT) {
      throw new ProviderError('FILE_TOO_LARGE', `${a.name ?? a.fileId} is larger than Viber's 50 MB limit`, {
        retryable: false,
      });
    }
    if (isPicture(a) && (!text || text.length <= PICTURE_TEXT_MAX)) {
      bodies.push({ ...common, type: 'picture', text: text ?? '', media: mediaUrl(a) });
      text = null;
    } else {
      bodies.push({ ...common, type: 'file', media: mediaUrl(a), size: a.size, file_name: a.name ?? 'file' });
    }
  }
  if (text) bodies.unshift({ ...common, type: 'text', text });
  return bodies;
}

/** Sends; the first message token is the one receipts name. */
export async function sendViberMessage(
  api: ViberApi,
  message: OutboundMessage,
): Promise<{ externalId: string }> {
  let first: string | null = null;
  for (const body of viberBodies(api, message)) {
    const answer = await callViber(api, 'send_message', body);
    if (typeof answer.message_token !== 'string') {
      throw new ProviderError('BAD_RESPONSE', 'Viber answered send_message without a message_token', {
        retryable: false,
      });
    }
    first ??= answer.message_token;
  }
  if (!first) throw new ProviderError('EMPTY_MESSAGE', 'nothing to send', { retryable: false });
  return { externalId: first };
}
