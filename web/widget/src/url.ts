/**
 * A link from a message (an attachment, an avatar) made safe to put in `href`/`src`: an absolute
 * http(s) URL, or a path on the Omniline server; anything else (`javascript:`, `data:`) is dropped.
 */
export function safeUrl(url: string, base: string): string | null {
  try {
    const u = new URL(url, `${base}/`);
    return u.protocol === 'https:' || u.protocol === 'http:' || u.protocol === 'blob:' ? u.href : null;
  } catch {
    return null;
  }
}
