/**
 * E-mail HTML made safe to show an operator: an allow-list of formatting tags and attributes; no
 * scripts, event handlers, styles, forms or frames; links only to http(s) and mailto; images only
 * from the message itself (cid:, data:image) — a remote image keeps its address in
 * `data-remote-src` and loads only when the operator asks (no tracking pixels). Everything this
 * emits is rebuilt from parsed tokens, never copied through: a tag or attribute it does not know
 * cannot reach the output.
 */

const ALLOWED_TAGS = new Set([
  'a',
  'b',
  'strong',
  'i',
  'em',
  'u',
  's',
  'strike',
  'p',
  'br',
  'div',
  'span',
  'blockquote',
  'pre',
  'code',
  'ul',
  'ol',
  'li',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'table',
  'thead',
  'tbody',
  'tfoot',
  'tr',
  'td',
  'th',
  'hr',
  'img',
  'font',
  'center',
  'small',
  'big',
  'sub',
  'sup',
  'dl',
  'dt',
  'dd',
  'caption',
  'colgroup',
  'col',
  'address',
  'cite',
  'q',
  'abbr',
  'mark',
  'del',
  'ins',
]);
/** Elements dropped with everything inside them. */
const DROPPED_WITH_CONTENT = new Set([
  'script',
  'style',
  'iframe',
  'object',
  'embed',
  'noscript',
  'template',
  'svg',
  'math',
  'head',
  'title',
  'textarea',
  'select',
  'applet',
  'frameset',
  'frame',
  'noembed',
  'noframes',
  'xmp',
]);
const VOID = new Set(['br', 'hr', 'img', 'col']);
const ATTRIBUTES: Record<string, readonly string[]> = {
  '*': ['title', 'dir', 'align', 'lang'],
  a: ['href'],
  img: ['src', 'alt', 'width', 'height'],
  td: ['colspan', 'rowspan', 'valign', 'width'],
  th: ['colspan', 'rowspan', 'valign', 'width'],
  table: ['border', 'cellpadding', 'cellspacing', 'width'],
  font: ['color', 'size', 'face'],
  ol: ['start', 'type'],
  col: ['span', 'width'],
  colgroup: ['span', 'width'],
};

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  colon: ':',
  tab: '\t',
  newline: '\n',
};

/** Decodes character references, for reading an attribute's real value. */
export function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);?/gi, (m, ref: string) => {
    if (ref[0] === '#') {
      const code =
        ref[1] === 'x' || ref[1] === 'X' ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
    }
    return ENTITIES[ref.toLowerCase()] ?? m;
  });
}

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** The URL scheme as a browser reads it (entities decoded, control characters and spaces ignored). */
function scheme(url: string): string | null {
  const plain = [...decodeEntities(url)]
    .filter((c) => {
      const code = c.codePointAt(0)!;
      return code > 0x20 && (code < 0x7f || code > 0x9f);
    })
    .join('');
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(plain);
  return m ? m[1]!.toLowerCase() : null;
}

function attribute(tag: string, name: string, raw: string): string | null {
  const value = decodeEntities(raw);
  if (name === 'href') {
    const s = scheme(value);
    return s === 'http' || s === 'https' || s === 'mailto'
      ? ` href="${escapeHtml(value)}" rel="noopener noreferrer nofollow" target="_blank"`
      : null;
  }
  if (name === 'src') {
    const s = scheme(value);
    if (s === 'cid' || (s === 'data' && /^data:image\/(png|gif|jpeg|webp);/i.test(value.trim())))
      return ` src="${escapeHtml(value)}"`;
    if (s === 'http' || s === 'https') return ` data-remote-src="${escapeHtml(value)}"`;
    return null;
  }
  if (!(ATTRIBUTES['*']!.includes(name) || ATTRIBUTES[tag]?.includes(name))) return null;
  return ` ${name}="${escapeHtml(value)}"`;
}

const ATTR = /([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?/g;

/** Index just past the `>` that ends the tag starting at `from` (quotes respected), or -1. */
function tagEnd(html: string, from: number): number {
  let quote: string | null = null;
  for (let i = from; i < html.length; i++) {
    const c = html[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return i + 1;
  }
  return -1;
}

export function sanitizeHtml(html: string): string {
  const out: string[] = [];
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt === -1) {
      out.push(html.slice(i).replace(/>/g, '&gt;'));
      break;
    }
    out.push(html.slice(i, lt).replace(/>/g, '&gt;'));
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end === -1 ? html.length : end + 3;
      continue;
    }
    const m = /^<(\/?)([a-zA-Z][a-zA-Z0-9-]*)/.exec(html.slice(lt, lt + 64));
    if (!m) {
      if (html[lt + 1] === '!' || html[lt + 1] === '?') {
        const end = tagEnd(html, lt);
        i = end === -1 ? html.length : end;
      } else {
        out.push('&lt;');
        i = lt + 1;
      }
      continue;
    }
    const end = tagEnd(html, lt + m[0].length);
    if (end === -1) break; // an unfinished tag: nothing after it can be trusted
    const closing = m[1] === '/';
    const tag = m[2]!.toLowerCase();
    i = end;
    if (!closing && DROPPED_WITH_CONTENT.has(tag)) {
      const close = new RegExp(`</${tag}\\s*>`, 'i').exec(html.slice(i));
      i = close ? i + close.index + close[0].length : html.length;
      continue;
    }
    if (!ALLOWED_TAGS.has(tag)) continue;
    if (closing) {
      if (!VOID.has(tag)) out.push(`</${tag}>`);
      continue;
    }
    const attrs: string[] = [];
    const body = html.slice(lt + m[0].length, end - 1);
    for (const a of body.matchAll(ATTR)) {
      const name = a[1]!.toLowerCase();
      let value = a[2] ?? '';
      if (value.startsWith('"') || value.startsWith("'")) value = value.slice(1, -1);
      const written = attribute(tag, name, value);
      if (written && !attrs.some((x) => x.startsWith(` ${name}=`))) attrs.push(written);
    }
    out.push(`<${tag}${attrs.join('')}>`);
  }
  return out.join('');
}

/** The text of an HTML body, for a message that has no text part. */
export function htmlToText(html: string): string {
  const withoutDropped = html.replace(/<(script|style|head|title)[\s\S]*?<\/\1\s*>/gi, '');
  const text = withoutDropped
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|tr|h[1-6]|blockquote)\s*>/gi, '\n')
    .replace(/<[^>]*>/g, '');
  return decodeEntities(text)
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
