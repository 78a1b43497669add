/**
 * A live-chat channel's settings. The widget's look and behaviour are public (the widget reads them
 * at `GET /livechat/:channelId/config`); the two secrets are write-only:
 *
 * - `tokenSecret`: signs visitor tokens; generated when the channel is registered.
 * - `identitySecret`: when set, a site may identify its signed-in users to the widget with
 *   `hash = HMAC-SHA256(identitySecret, id)` (hex); a wrong hash is refused.
 */
import { randomBytes } from 'node:crypto';
import { InvalidField } from '../../errors.ts';
import { MAX_FILE_BYTES } from '../../files/file.service.ts';
import { DEFAULT_MAX_UPLOAD_BYTES, UPLOAD_TYPES } from './uploads.ts';

export const LANGUAGES = ['en', 'ru'] as const;
export const POSITIONS = ['right', 'left'] as const;
export const PRECHAT_FIELDS = ['name', 'email', 'message'] as const;
export type PrechatField = (typeof PRECHAT_FIELDS)[number];

export interface WidgetSettings {
  title: string | null;
  greeting: string | null;
  /** `#rrggbb`: the launcher, the header and the visitor's bubbles. */
  color: string;
  position: (typeof POSITIONS)[number];
  language: (typeof LANGUAGES)[number];
  /** Fields of the pre-chat form, in order; empty: no form. */
  prechatFields: PrechatField[];
  /** Origins allowed to embed the widget (`https://shop.example`); empty: any. */
  allowedOrigins: string[];
  /** Largest file a visitor may upload (bytes); 0: no uploads. */
  maxUploadBytes: number;
}

export const PUBLIC_SETTINGS = [
  'title',
  'greeting',
  'color',
  'position',
  'language',
  'prechatFields',
  'allowedOrigins',
  'maxUploadBytes',
] as const;

export const DEFAULT_WIDGET: WidgetSettings = {
  title: null,
  greeting: null,
  color: '#1f6feb',
  position: 'right',
  language: 'en',
  prechatFields: ['name', 'email'],
  allowedOrigins: [],
  maxUploadBytes: DEFAULT_MAX_UPLOAD_BYTES,
};

function text(v: unknown, key: string, max: number): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string' || v.length > max)
    throw new InvalidField(`settings.${key}`, `must be a string of at most ${max} characters`);
  return v;
}

function oneOf<T extends string>(v: unknown, key: string, values: readonly T[], fallback: T): T {
  if (v === undefined || v === null) return fallback;
  if (!values.includes(v as T))
    throw new InvalidField(`settings.${key}`, `must be one of ${values.join(', ')}`);
  return v as T;
}

/** `https://shop.example[:port]`, as browsers send it in Origin (no path, no trailing slash). */
export function normalizeOrigin(v: string): string | null {
  try {
    const u = new URL(v);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
    return u.origin;
  } catch {
    return null;
  }
}

export function validateLivechatSettings(s: Record<string, unknown>): Record<string, unknown> {
  const color = s.color ?? DEFAULT_WIDGET.color;
  if (typeof color !== 'string' || !/^#[0-9a-f]{6}$/i.test(color))
    throw new InvalidField('settings.color', 'must be a colour like #1f6feb');
  const origins = s.allowedOrigins ?? [];
  if (!Array.isArray(origins) || origins.length > 50)
    throw new InvalidField('settings.allowedOrigins', 'must be an array of at most 50 origins');
  const allowedOrigins = origins.map((o, i) => {
    const n = typeof o === 'string' ? normalizeOrigin(o) : null;
    if (!n)
      throw new InvalidField(`settings.allowedOrigins[${i}]`, 'must be an origin like https://shop.example');
    return n;
  });
  const fields = s.prechatFields ?? DEFAULT_WIDGET.prechatFields;
  if (!Array.isArray(fields) || fields.some((f) => !PRECHAT_FIELDS.includes(f as PrechatField)))
    throw new InvalidField('settings.prechatFields', `must be an array of ${PRECHAT_FIELDS.join(', ')}`);
  const maxUploadBytes = s.maxUploadBytes ?? DEFAULT_WIDGET.maxUploadBytes;
  if (
    typeof maxUploadBytes !== 'number' ||
    !Number.isInteger(maxUploadBytes) ||
    maxUploadBytes < 0 ||
    maxUploadBytes > MAX_FILE_BYTES
  )
    throw new InvalidField(
      'settings.maxUploadBytes',
      `must be an integer from 0 (no uploads) to ${MAX_FILE_BYTES}`,
    );
  const identitySecret = s.identitySecret;
  if (identitySecret !== undefined && (typeof identitySecret !== 'string' || identitySecret.length < 16))
    throw new InvalidField('settings.identitySecret', 'must be a secret of at least 16 characters');
  const tokenSecret = s.tokenSecret;
  if (tokenSecret !== undefined && (typeof tokenSecret !== 'string' || tokenSecret.length < 32))
    throw new InvalidField(
      'settings.tokenSecret',
      'must be at least 32 characters (it is generated when left out)',
    );
  return {
    title: text(s.title, 'title', 60),
    greeting: text(s.greeting, 'greeting', 500),
    color: color.toLowerCase(),
    position: oneOf(s.position, 'position', POSITIONS, DEFAULT_WIDGET.position),
    language: oneOf(s.language, 'language', LANGUAGES, DEFAULT_WIDGET.language),
    prechatFields: [...new Set(fields as PrechatField[])],
    allowedOrigins: [...new Set(allowedOrigins)],
    maxUploadBytes,
    ...(identitySecret !== undefined && { identitySecret }),
    ...(tokenSecret !== undefined && { tokenSecret }),
  };
}

export const newTokenSecret = () => randomBytes(32).toString('base64url');

/** The widget's public view of the settings. */
export function widgetSettings(
  s: Record<string, unknown>,
): WidgetSettings & { identityVerification: boolean; uploadTypes: readonly string[] } {
  const pick = <K extends keyof WidgetSettings>(k: K) => (s[k] ?? DEFAULT_WIDGET[k]) as WidgetSettings[K];
  return {
    title: pick('title'),
    greeting: pick('greeting'),
    color: pick('color'),
    position: pick('position'),
    language: pick('language'),
    prechatFields: pick('prechatFields'),
    allowedOrigins: pick('allowedOrigins'),
    maxUploadBytes: pick('maxUploadBytes'),
    uploadTypes: UPLOAD_TYPES,
    identityVerification: typeof s.identitySecret === 'string',
  };
}

/** Whether a page of this origin may use the channel's widget (no Origin: not a browser page; refused when origins are set). */
export function originAllowed(s: Record<string, unknown>, origin: string | undefined): boolean {
  const allowed = (s.allowedOrigins as string[] | undefined) ?? [];
  if (allowed.length === 0) return true;
  return origin !== undefined && allowed.includes(origin);
}
