/**
 * File transfer with Telegram: uploads (multipart sendPhoto/sendDocument, 50 MB cap) and downloads
 * (`GET <apiRoot>/file/bot<token>/<file_path>` after getFile, 20 MB cap), both streamed with a byte
 * limit so an oversized file is refused before it fills memory.
 */
import { pipeline, Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { HttpResult } from '../http.ts';
import { type LoadedAttachment, type OutboundAttachment, ProviderError } from '../provider.ts';
import { callSignal, fileUrl, redactError, type TelegramApi, telegramError } from './telegram-api.client.ts';

export const UPLOAD_LIMIT = 50 * 1024 * 1024;
export const DOWNLOAD_LIMIT = 20 * 1024 * 1024;
/** sendPhoto takes photos up to 10 MB; larger images go as documents. */
export const PHOTO_LIMIT = 10 * 1024 * 1024;

const MB = 1024 * 1024;

function tooLarge(what: string, limit: number): ProviderError {
  return new ProviderError('FILE_TOO_LARGE', `${what} is larger than Telegram's ${limit / MB} MB limit`, {
    retryable: false,
  });
}

/** Reads an attachment's bytes, refusing more than `limit`. */
export async function readUpload(attachment: OutboundAttachment, limit = UPLOAD_LIMIT): Promise<Buffer> {
  const what = `attachment ${attachment.name ?? attachment.fileId}`;
  if (attachment.size > limit) throw tooLarge(what, limit);
  const stream = attachment.open();
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array | string);
      total += buf.length;
      if (total > limit) throw tooLarge(what, limit);
      chunks.push(buf);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, total);
}

/** Whether Telegram shows this attachment as a photo (sendPhoto) rather than a document. */
export function sendsAsPhoto(attachment: { mimeType: string; size: number }): boolean {
  const mime = attachment.mimeType.toLowerCase();
  return mime.startsWith('image/') && mime !== 'image/svg+xml' && attachment.size <= PHOTO_LIMIT;
}

const MIME_BY_EXTENSION: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  tgs: 'application/x-tgsticker',
  webm: 'video/webm',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  oga: 'audio/ogg',
  ogg: 'audio/ogg',
  opus: 'audio/ogg',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  wav: 'audio/wav',
  pdf: 'application/pdf',
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  zip: 'application/zip',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** A MIME type from a file name's extension; application/octet-stream when unknown. */
export function mimeTypeOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  const ext = dot >= 0 ? fileName.slice(dot + 1).toLowerCase() : '';
  // Own keys only: a file named "x.constructor" must not find Object.prototype.constructor.
  return Object.hasOwn(MIME_BY_EXTENSION, ext) ? MIME_BY_EXTENSION[ext]! : 'application/octet-stream';
}

/** Passes bytes through, failing the stream once more than `limit` went by. */
function byteLimit(limit: number, what: string): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      if (total > limit) callback(tooLarge(what, limit));
      else callback(null, chunk);
    },
  });
}

/** Opens a file Telegram stores, by the `file_path` getFile gave. */
export async function downloadFile(
  api: TelegramApi,
  filePath: string,
  fileSize: number | null,
): Promise<LoadedAttachment> {
  const name = filePath.split('/').pop() || filePath;
  const what = `Telegram file ${name}`;
  if (fileSize !== null && fileSize > DOWNLOAD_LIMIT) throw tooLarge(what, DOWNLOAD_LIMIT);
  const { token } = api.settings;
  let res: Response;
  try {
    res = await api.fetch(fileUrl(api.settings, filePath), { signal: callSignal(120_000) });
  } catch (err) {
    redactError(err, token);
  }
  if (!res.ok || !res.body) {
    const text = await res.text().catch(() => '');
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    const result: HttpResult = { status: res.ok ? 502 : res.status, headers: res.headers, text, json };
    throw telegramError('file download', result, token);
  }
  const length = Number(res.headers.get('content-length'));
  if (Number.isFinite(length) && length > DOWNLOAD_LIMIT) {
    await res.body.cancel().catch(() => undefined);
    throw tooLarge(what, DOWNLOAD_LIMIT);
  }
  const source = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  const limited = byteLimit(DOWNLOAD_LIMIT, what);
  // pipeline destroys both on an error or an early close; the consumer sees errors on `limited`.
  pipeline(source, limited, () => undefined);
  const given = res.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  const mimeType = given && given !== 'application/octet-stream' ? given : mimeTypeOf(name);
  const size = fileSize ?? (Number.isFinite(length) && length > 0 ? length : null);
  return { stream: limited, mimeType, name, size };
}
