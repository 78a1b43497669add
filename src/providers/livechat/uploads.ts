/**
 * Files a visitor uploads (`POST /livechat/:channelId/files`), and how a message then carries them.
 *
 * The upload stores the bytes in the file store at once (capped by the channel's `maxUploadBytes`,
 * refused unless what the bytes ARE — sniffed, not declared — is one of UPLOAD_TYPES) and answers an
 * upload reference: `lf1.<payload>.<signature>`, the payload `{"c": channelId, "v": visitorId, "f":
 * fileId, "n": name, "m": mimeType, "s": size}` signed with HMAC-SHA256 under the channel's
 * `tokenSecret`. The visitor's message names it in `files`; the provider accepts only references
 * made for that same visitor on that channel, so a visitor can attach only their own uploads — and
 * the message, hence the file, goes to their own session (the pipeline binds it there).
 */
import { createHmac } from 'node:crypto';
import { safeEqual } from '../signature.ts';

/** What a visitor may upload, by the sniffed type of the bytes (never active content: no HTML, SVG). */
export const UPLOAD_TYPES: readonly string[] = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'application/pdf',
  'text/plain',
  'text/csv',
  'application/zip',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.oasis.opendocument.text',
  'application/vnd.oasis.opendocument.spreadsheet',
];

/** The default of the channel setting `maxUploadBytes` (0 turns uploads off). */
export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
/** Files one visitor message may carry. */
export const MAX_FILES_PER_MESSAGE = 5;

export interface UploadedFile {
  fileId: string;
  name: string | null;
  mimeType: string;
  size: number;
}

const PREFIX = 'lf1';
const sign = (secret: string, payload: string) =>
  createHmac('sha256', secret).update(`${PREFIX}.${payload}`).digest('base64url');

export function uploadRef(secret: string, channelId: string, visitorId: string, file: UploadedFile): string {
  const payload = Buffer.from(
    JSON.stringify({
      c: channelId,
      v: visitorId,
      f: file.fileId,
      n: file.name,
      m: file.mimeType,
      s: file.size,
    }),
  ).toString('base64url');
  return `${PREFIX}.${payload}.${sign(secret, payload)}`;
}

/** The file an upload reference names, or null unless it was made for this visitor of this channel. */
export function openUploadRef(
  secret: string,
  channelId: string,
  visitorId: string,
  ref: string,
): UploadedFile | null {
  const parts = ref.split('.');
  if (parts.length !== 3 || parts[0] !== PREFIX) return null;
  const [, payload, signature] = parts as [string, string, string];
  if (!safeEqual(signature, sign(secret, payload))) return null;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (body.c !== channelId || body.v !== visitorId || typeof body.f !== 'string') return null;
  return {
    fileId: body.f,
    name: typeof body.n === 'string' ? body.n : null,
    mimeType: typeof body.m === 'string' ? body.m : 'application/octet-stream',
    size: typeof body.s === 'number' ? body.s : 0,
  };
}
