/**
 * What a file really is, from its first bytes: the MIME type a sender declares is a claim, and a
 * file that claims to be a PNG while holding HTML must not be stored — nor served — as an image.
 *
 * - Known signatures decide: PNG, JPEG, GIF, WebP, BMP, PDF, ZIP (and the Office/OpenDocument/EPUB
 *   files inside it), gzip, 7z, RAR, OLE (legacy Office), MP3, AAC, Ogg, WAV, FLAC, MP4/QuickTime/
 *   3GP/HEIC/AVIF (ISO BMFF), WebM/Matroska.
 * - Otherwise text is told from binary. Text that looks like HTML is `text/html`, like SVG
 *   `image/svg+xml` (whatever was declared: a browser would render it so); other text keeps a
 *   declared text type (`text/csv`, `application/json`, …), else `text/plain`.
 * - A binary nobody recognises keeps the declared type unless that type is one the signatures above
 *   would have confirmed (a "PNG" that is not one) or active content (HTML, SVG, XML, scripts): then
 *   `application/octet-stream`.
 */

/** Bytes read from the start of a file to decide (ZIP entry names need more than a few). */
export const SNIFF_BYTES = 8192;

const OCTET = 'application/octet-stream';

/** Declared types the signatures would confirm: a claim of one of these is believed only if they do. */
const CONFIRMABLE = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/bmp',
  'image/heic',
  'image/avif',
  'application/pdf',
  'application/zip',
  'application/gzip',
  'audio/mpeg',
  'audio/aac',
  'audio/ogg',
  'audio/wav',
  'audio/flac',
  'audio/mp4',
  'video/ogg',
  'video/mp4',
  'video/quicktime',
  'video/webm',
  'audio/webm',
]);

/** Declared types that a browser runs or renders as a page: never kept on faith. */
const ACTIVE =
  /^(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml|(text|application)\/(x-)?(java|ecma)script|text\/xsl)$/;

const ZIP_BASED: Record<string, string> = {
  'word/': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'xl/': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'ppt/': 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
};

const ZIP_DECLARED =
  /^application\/(vnd\.openxmlformats-officedocument\.|vnd\.oasis\.opendocument\.|epub\+zip|java-archive|vnd\.android\.package-archive|x-zip-compressed)/;

const OLE_DECLARED = /^application\/(msword|vnd\.ms-|x-msi|vnd\.visio)/;

/** The MIME type to store for a file starting with `head`, declared as `declared`. */
export function sniffMimeType(head: Buffer, declared?: string | null): string {
  const claim = essence(declared);
  const found = bySignature(head, claim);
  if (found) return found;
  if (isText(head)) return textType(head, claim);
  if (claim && !CONFIRMABLE.has(claim) && !ACTIVE.test(claim) && !claim.startsWith('text/')) return claim;
  return OCTET;
}

/** `type/subtype` in lower case, without parameters; null when it is not a MIME type. */
function essence(declared: string | null | undefined): string | null {
  const t = declared?.split(';')[0]?.trim().toLowerCase();
  return t && /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(t) ? t : null;
}

const at = (head: Buffer, offset: number, bytes: number[] | string) => {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
  return head.length >= offset + b.length && head.subarray(offset, offset + b.length).equals(b);
};

function bySignature(h: Buffer, claim: string | null): string | null {
  if (at(h, 0, [0x89, 0x50, 0x4e, 0x47])) return 'image/png';
  if (at(h, 0, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (at(h, 0, 'GIF87a') || at(h, 0, 'GIF89a')) return 'image/gif';
  if (at(h, 0, 'RIFF') && at(h, 8, 'WEBP')) return 'image/webp';
  if (at(h, 0, 'RIFF') && at(h, 8, 'WAVE')) return 'audio/wav';
  if (at(h, 0, 'BM') && h.length >= 26 && h.readUInt32LE(14) >= 12 && h.readUInt32LE(14) <= 124 && h[6] === 0)
    return 'image/bmp';
  if (h.subarray(0, 1024).includes('%PDF-')) return 'application/pdf';
  if (at(h, 0, 'PK\x03\x04') || at(h, 0, 'PK\x05\x06') || at(h, 0, 'PK\x07\x08')) return zipType(h, claim);
  if (at(h, 0, [0x1f, 0x8b])) return 'application/gzip';
  if (at(h, 0, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return 'application/x-7z-compressed';
  if (at(h, 0, 'Rar!\x1a\x07')) return 'application/vnd.rar';
  if (at(h, 0, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]))
    return claim && OLE_DECLARED.test(claim) ? claim : 'application/x-ole-storage';
  if (at(h, 0, 'OggS')) return claim === 'video/ogg' ? 'video/ogg' : 'audio/ogg';
  if (at(h, 0, 'fLaC')) return 'audio/flac';
  if (at(h, 4, 'ftyp')) return isoType(h.subarray(8, 12).toString('latin1'), claim);
  if (at(h, 0, [0x1a, 0x45, 0xdf, 0xa3])) {
    if (!h.includes('webm')) return 'video/x-matroska';
    return claim === 'audio/webm' ? 'audio/webm' : 'video/webm';
  }
  if (at(h, 0, 'ID3') || isMpegFrame(h)) return 'audio/mpeg';
  if (h.length >= 2 && h[0] === 0xff && (h[1]! & 0xf6) === 0xf0) return 'audio/aac';
  return null;
}

/** An MPEG audio frame header (MPEG 1/2/2.5, layer I–III, a valid bit-rate and sample-rate index). */
function isMpegFrame(h: Buffer): boolean {
  if (h.length < 4 || h[0] !== 0xff || (h[1]! & 0xe0) !== 0xe0) return false;
  const version = (h[1]! >> 3) & 3;
  const layer = (h[1]! >> 1) & 3;
  const bitrate = h[2]! >> 4;
  const rate = (h[2]! >> 2) & 3;
  return version !== 1 && layer !== 0 && bitrate !== 0xf && rate !== 3;
}

function zipType(h: Buffer, claim: string | null): string {
  // OpenDocument and EPUB store their type uncompressed as the first entry, named "mimetype".
  if (at(h, 30, 'mimetype')) {
    const type = h
      .subarray(38, 38 + 80)
      .toString('latin1')
      .match(/^[a-z0-9.+-]+\/[a-z0-9.+-]+/)?.[0];
    if (type) return type;
  }
  const names = h.toString('latin1');
  if (names.includes('[Content_Types].xml') || Object.keys(ZIP_BASED).some((d) => names.includes(d))) {
    for (const [dir, type] of Object.entries(ZIP_BASED)) if (names.includes(dir)) return type;
  }
  return claim && ZIP_DECLARED.test(claim) ? claim : 'application/zip';
}

function isoType(brand: string, claim: string | null): string {
  if (brand === 'M4A ' || brand === 'M4B ' || (brand === 'isom' && claim === 'audio/mp4')) return 'audio/mp4';
  if (brand === 'qt  ') return 'video/quicktime';
  if (brand.startsWith('3g')) return 'video/3gpp';
  if (['heic', 'heix', 'heim', 'heis', 'mif1', 'msf1'].includes(brand)) return 'image/heic';
  if (brand === 'avif' || brand === 'avis') return 'image/avif';
  return claim === 'audio/mp4' ? 'audio/mp4' : 'video/mp4';
}

/**
 * Text: no NUL and (almost) no control characters other than whitespace. UTF-16 with a byte-order
 * mark counts; other bytes above 0x7f are allowed (UTF-8, Latin-1).
 */
function isText(h: Buffer): boolean {
  if (h.length === 0) return false; // nothing to tell by: as an unknown binary
  if (at(h, 0, [0xff, 0xfe]) || at(h, 0, [0xfe, 0xff])) return true;
  let control = 0;
  for (const b of h) {
    if (b === 0) return false;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d && b !== 0x1b) control++;
  }
  return control * 100 <= h.length;
}

function textType(h: Buffer, claim: string | null): string {
  const start = h
    .subarray(0, 1024)
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  if (/<svg[\s>]/.test(start)) return 'image/svg+xml';
  if (
    /^<!doctype html|<(html|head|body|script|iframe|frameset|object|embed|img|a|div|p|style|title|meta)[\s>/]/.test(
      start,
    )
  )
    return 'text/html';
  if (start.startsWith('<?xml'))
    return claim && /[/+]xml$/.test(claim) && !ACTIVE.test(claim) ? claim : 'application/xml';
  if (claim && !ACTIVE.test(claim) && (claim.startsWith('text/') || TEXT_DECLARED.test(claim))) return claim;
  return 'text/plain';
}

const TEXT_DECLARED = /^application\/(json|ld\+json|x-ndjson|csv|yaml|x-yaml|toml|sql|x-subrip|rtf)$/;
