/**
 * Outgoing WhatsApp Cloud API messages: `POST /<phone-number-id>/messages` with
 * `{"messaging_product":"whatsapp","recipient_type":"individual","to":"<digits>","type",…}`.
 * Text in parts of 4,096 characters; each file as an image / video / audio / document message, by
 * link when this server has a public URL (WhatsApp fetches the signed link) and uploaded to
 * `POST /<phone-number-id>/media` otherwise; the text as the first file's caption when it fits;
 * templates as `type: template`. Answers `{"messages":[{"id":"wamid…"}]}`.
 */
import { readCapped } from '../download.ts';
import { type GraphApi, graphCall } from '../meta/meta-graph.client.ts';
import { e164Digits } from '../phone.ts';
import { type OutboundAttachment, type OutboundMessage, ProviderError } from '../provider.ts';

export const TEXT_LIMIT = 4096;
export const CAPTION_LIMIT = 1024;
const MB = 1024 * 1024;
/** Upload limits by kind (WhatsApp Cloud API media limits). */
export const MEDIA_LIMITS = {
  image: 5 * MB,
  video: 16 * MB,
  audio: 16 * MB,
  document: 100 * MB,
  sticker: 500 * 1024,
} as const;
export type MediaKind = keyof typeof MEDIA_LIMITS;

const IMAGE = new Set(['image/jpeg', 'image/png']);
const VIDEO = new Set(['video/mp4', 'video/3gpp']);
const AUDIO = new Set(['audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4', 'audio/ogg']);

/** How WhatsApp takes a file of this type (anything it cannot show goes as a document). */
export function mediaKind(a: { mimeType: string; size: number }): MediaKind {
  const mime = a.mimeType.toLowerCase().split(';')[0]!.trim();
  if (IMAGE.has(mime) && a.size <= MEDIA_LIMITS.image) return 'image';
  if (VIDEO.has(mime) && a.size <= MEDIA_LIMITS.video) return 'video';
  if (AUDIO.has(mime) && a.size <= MEDIA_LIMITS.audio) return 'audio';
  return 'document';
}

export function splitText(text: string, limit = TEXT_LIMIT): string[] {
  const parts: string[] = [];
  for (let rest = text; rest.length > 0; ) {
    let cut = Math.min(limit, rest.length);
    if (cut < rest.length) {
      const br =
        rest.lastIndexOf('\n', cut) > limit / 2 ? rest.lastIndexOf('\n', cut) : rest.lastIndexOf(' ', cut);
      if (br > limit / 2) cut = br + 1;
      const code = rest.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut--;
    }
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  return parts;
}

async function post(api: GraphApi, phoneNumberId: string, body: Record<string, unknown>): Promise<string> {
  const answer = await graphCall<{ messages?: { id?: unknown }[] }>(
    api,
    'send',
    `${phoneNumberId}/messages`,
    {
      body: { messaging_product: 'whatsapp', recipient_type: 'individual', ...body },
    },
  );
  const id = answer.messages?.[0]?.id;
  if (typeof id !== 'string') {
    throw new ProviderError('BAD_RESPONSE', 'WhatsApp answered a send without a message id', {
      retryable: false,
    });
  }
  return id;
}

/** Uploads a file to WhatsApp's media store; returns its media id. */
async function upload(
  api: GraphApi,
  phoneNumberId: string,
  a: OutboundAttachment,
  kind: MediaKind,
): Promise<string> {
  const what = `attachment ${a.name ?? a.fileId}`;
  const data = await readCapped(a.open, a.size, MEDIA_LIMITS[kind], what, 'WhatsApp');
  const form = new FormData();
  form.append('messaging_product', 'whatsapp');
  form.append('type', a.mimeType);
  form.append('file', new Blob([data], { type: a.mimeType }), a.name ?? 'file');
  const answer = await graphCall<{ id?: unknown }>(api, 'media upload', `${phoneNumberId}/media`, {
    body: form,
    timeoutMs: 120_000,
  });
  if (typeof answer.id !== 'string') {
    throw new ProviderError('BAD_RESPONSE', 'WhatsApp answered an upload without a media id', {
      retryable: false,
    });
  }
  return answer.id;
}

export async function sendWhatsapp(
  api: GraphApi,
  phoneNumberId: string,
  message: OutboundMessage,
  publicUrl: string | null,
): Promise<{ externalId: string }> {
  const to = e164Digits(message.to.externalId);
  if (message.template) {
    const { name, language, components } = message.template;
    const id = await post(api, phoneNumberId, {
      to,
      type: 'template',
      template: { name, language: { code: language }, ...(components.length > 0 && { components }) },
    });
    return { externalId: id };
  }
  const text = message.text ?? '';
  if (!text.trim() && message.attachments.length === 0) {
    throw new ProviderError('EMPTY_MESSAGE', 'a WhatsApp message needs text or files', { retryable: false });
  }
  const ids: string[] = [];
  const first = message.attachments[0];
  const captioned =
    !!first && text.trim() !== '' && text.length <= CAPTION_LIMIT && mediaKind(first) !== 'audio';
  if (text.trim() && !captioned) {
    for (const part of splitText(text)) {
      ids.push(
        await post(api, phoneNumberId, { to, type: 'text', text: { body: part, preview_url: false } }),
      );
    }
  }
  for (const [i, a] of message.attachments.entries()) {
    const kind = mediaKind(a);
    if (a.size > MEDIA_LIMITS[kind]) {
      throw new ProviderError(
        'FILE_TOO_LARGE',
        `attachment ${a.name ?? a.fileId} is larger than WhatsApp's ${MEDIA_LIMITS[kind] / MB} MB ${kind} limit`,
        { retryable: false },
      );
    }
    const byLink = publicUrl !== null && /^https?:\/\//.test(a.url);
    const media: Record<string, unknown> = byLink
      ? { link: a.url }
      : { id: await upload(api, phoneNumberId, a, kind) };
    if (kind === 'document' && a.name) media.filename = a.name;
    if (i === 0 && captioned) media.caption = text;
    ids.push(await post(api, phoneNumberId, { to, type: kind, [kind]: media }));
  }
  return { externalId: ids[0]! };
}
