/**
 * Outgoing messages through the Send API (`POST /<page-id>/messages`), for Messenger and Instagram:
 * `{"recipient":{"id"},"messaging_type":"RESPONSE","message":{"text"}}` inside the 24-hour window, or
 * `"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT"` in the 7 days the tag allows where the page
 * may use it. Files go as attachments by link (the signed download link, when this server has a
 * public URL) or uploaded in the same request (multipart `filedata`). Answers `{recipient_id, message_id}`.
 */
import { readCapped } from '../download.ts';
import { type GraphApi, graphCall } from '../meta/meta-graph.client.ts';
import { type OutboundAttachment, type OutboundMessage, ProviderError } from '../provider.ts';

export const UPLOAD_LIMIT = 25 * 1024 * 1024;

export function attachmentType(a: { mimeType: string }): 'image' | 'video' | 'audio' | 'file' {
  const mime = a.mimeType.toLowerCase();
  if (mime.startsWith('image/') && mime !== 'image/svg+xml') return 'image';
  if (mime.startsWith('video/')) return 'video';
  if (mime.startsWith('audio/')) return 'audio';
  return 'file';
}

function splitText(text: string, limit: number): string[] {
  const parts: string[] = [];
  for (let rest = text; rest.length > 0; ) {
    let cut = Math.min(limit, rest.length);
    const br = rest.lastIndexOf(' ', cut);
    if (cut < rest.length && br > limit / 2) cut = br + 1;
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  return parts;
}

function sentId(answer: { message_id?: unknown }): string {
  if (typeof answer.message_id !== 'string') {
    throw new ProviderError('BAD_RESPONSE', 'the Send API answered without a message_id', {
      retryable: false,
    });
  }
  return answer.message_id;
}

export async function sendMessenger(
  api: GraphApi,
  pageId: string,
  message: OutboundMessage,
  opts: { publicUrl: string | null; textLimit: number; messenger: string },
): Promise<{ externalId: string }> {
  const text = message.text ?? '';
  if (!text.trim() && message.attachments.length === 0) {
    throw new ProviderError('EMPTY_MESSAGE', `a ${opts.messenger} message needs text or files`, {
      retryable: false,
    });
  }
  const envelope = {
    recipient: { id: message.to.externalId },
    ...(message.window?.tagged
      ? { messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' }
      : { messaging_type: 'RESPONSE' }),
  };
  const path = `${pageId}/messages`;
  const ids: string[] = [];
  if (text.trim()) {
    for (const part of splitText(text, opts.textLimit)) {
      ids.push(
        sentId(await graphCall(api, 'send', path, { body: { ...envelope, message: { text: part } } })),
      );
    }
  }
  for (const a of message.attachments) ids.push(await sendFile(api, path, envelope, a, opts));
  return { externalId: ids[0]! };
}

async function sendFile(
  api: GraphApi,
  path: string,
  envelope: Record<string, unknown>,
  a: OutboundAttachment,
  opts: { publicUrl: string | null; messenger: string },
): Promise<string> {
  const type = attachmentType(a);
  if (opts.publicUrl !== null && /^https?:\/\//.test(a.url)) {
    const body = {
      ...envelope,
      message: { attachment: { type, payload: { url: a.url, is_reusable: true } } },
    };
    return sentId(await graphCall(api, 'send', path, { body }));
  }
  const data = await readCapped(
    a.open,
    a.size,
    UPLOAD_LIMIT,
    `attachment ${a.name ?? a.fileId}`,
    opts.messenger,
  );
  const form = new FormData();
  for (const [k, v] of Object.entries(envelope))
    form.append(k, typeof v === 'string' ? v : JSON.stringify(v));
  form.append('message', JSON.stringify({ attachment: { type, payload: { is_reusable: true } } }));
  form.append('filedata', new Blob([data], { type: a.mimeType }), a.name ?? 'file');
  return sentId(await graphCall(api, 'send', path, { body: form, timeoutMs: 120_000 }));
}
