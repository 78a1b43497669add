/**
 * How a stored file is served. Its stored type is what its bytes are (files/sniff.ts), and the
 * browser is told not to guess another (`nosniff`). Raster images a browser shows as pictures are
 * served inline; anything else — HTML and SVG above all, which would run as pages of this origin —
 * downloads as an attachment, in a sandbox with nothing allowed should it be opened anyway.
 */
const INLINE = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp']);

export function downloadHeaders(file: {
  id: string;
  name: string | null;
  mimeType: string;
  size: number;
}): Record<string, string> {
  return {
    'content-type': file.mimeType,
    'content-length': String(file.size),
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
    'content-disposition': contentDisposition(
      INLINE.has(file.mimeType) ? 'inline' : 'attachment',
      file.name ?? file.id,
    ),
  };
}

/**
 * `attachment; filename="<ASCII stand-in>"; filename*=UTF-8''<name>` (RFC 6266, RFC 5987): every
 * client gets a name, the ones that read `filename*` the real one; no quote, backslash or control
 * character gets through.
 */
export function contentDisposition(type: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(
    /['()*!]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
