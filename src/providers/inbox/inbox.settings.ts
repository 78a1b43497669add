/**
 * Settings of an inbox (e-mail) channel:
 *   imap    {host, port, secure, user, password, folder}  where mail is read (folder "INBOX" by default)
 *   smtp    {host, port, secure, user, password, from}    where replies are sent; `from` is our address
 *   backfillDays                                          mail read on first connect (7 by default)
 *   smtpIn  {address}                                     the address our SMTP listener takes for this channel
 * Passwords are write-only (only the keys in PUBLIC_INBOX_SETTINGS come back).
 */
import { InvalidField } from '../../errors.ts';
import { ProviderError } from '../provider.ts';

export interface ImapSettings {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  password: string;
  folder: string;
}

export interface SmtpSettings {
  host: string;
  port: number;
  secure: boolean;
  user: string | null;
  password: string | null;
  from: string;
}

export interface InboxSettings {
  imap: ImapSettings;
  smtp: SmtpSettings;
  backfillDays: number;
  smtpIn: { address: string } | null;
}

export const DEFAULT_BACKFILL_DAYS = 7;
export const PUBLIC_INBOX_SETTINGS = [
  'imap.host',
  'imap.port',
  'imap.secure',
  'imap.user',
  'imap.folder',
  'smtp.host',
  'smtp.port',
  'smtp.secure',
  'smtp.user',
  'smtp.from',
  'backfillDays',
  'smtpIn',
] as const;

/** An e-mail address, lower-cased: the one form a client is known by. */
export function normalizeAddress(value: string): string | null {
  const address = value.trim().toLowerCase();
  return /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/.test(address) ? address : null;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function str(obj: Record<string, unknown>, key: string, field: string, required: boolean): string | null {
  const v = obj[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw new InvalidField(`${field}.${key}`, 'is required: a non-empty string');
    return null;
  }
  if (typeof v !== 'string') throw new InvalidField(`${field}.${key}`, 'must be a string');
  return v;
}

function port(
  obj: Record<string, unknown>,
  field: string,
  secure: boolean,
  plain: number,
  tls: number,
): number {
  const v = obj.port;
  if (v === undefined || v === null) return secure ? tls : plain;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) {
    throw new InvalidField(`${field}.port`, 'must be an integer port, 1-65535');
  }
  return v;
}

function secure(obj: Record<string, unknown>, field: string): boolean {
  const v = obj.secure;
  if (v === undefined || v === null) return true;
  if (typeof v !== 'boolean') throw new InvalidField(`${field}.secure`, 'must be true (TLS) or false');
  return v;
}

function section(settings: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = settings[key];
  if (!isRecord(v)) throw new InvalidField(`settings.${key}`, 'is required: an object');
  return v;
}

function checkImap(raw: Record<string, unknown>): ImapSettings {
  const field = 'settings.imap';
  const tls = secure(raw, field);
  return {
    host: str(raw, 'host', field, true)!,
    port: port(raw, field, tls, 143, 993),
    secure: tls,
    user: str(raw, 'user', field, true)!,
    password: str(raw, 'password', field, true)!,
    folder: str(raw, 'folder', field, false) ?? 'INBOX',
  };
}

function checkSmtp(raw: Record<string, unknown>): SmtpSettings {
  const field = 'settings.smtp';
  const tls = secure(raw, field);
  const from = str(raw, 'from', field, true)!;
  if (!normalizeAddress(from.replace(/^.*<([^>]+)>\s*$/, '$1'))) {
    throw new InvalidField(`${field}.from`, 'must be an e-mail address, like "Support <help@example.com>"');
  }
  const user = str(raw, 'user', field, false);
  const password = str(raw, 'password', field, false);
  if (user && !password) throw new InvalidField(`${field}.password`, 'is required with smtp.user');
  return {
    host: str(raw, 'host', field, true)!,
    port: port(raw, field, tls, 587, 465),
    secure: tls,
    user,
    password,
    from,
  };
}

/** Checks and normalises settings (defaults filled in, unknown keys dropped). */
export function validateInboxSettings(settings: Record<string, unknown>): Record<string, unknown> {
  const imap = checkImap(section(settings, 'imap'));
  const smtp = checkSmtp(section(settings, 'smtp'));
  let backfillDays = DEFAULT_BACKFILL_DAYS;
  if (settings.backfillDays !== undefined && settings.backfillDays !== null) {
    const v = settings.backfillDays;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 3650) {
      throw new InvalidField('settings.backfillDays', 'must be an integer number of days, 0-3650');
    }
    backfillDays = v;
  }
  let smtpIn: InboxSettings['smtpIn'] = null;
  if (settings.smtpIn !== undefined && settings.smtpIn !== null) {
    if (!isRecord(settings.smtpIn)) throw new InvalidField('settings.smtpIn', 'must be an object {address}');
    const address = normalizeAddress(String(settings.smtpIn.address ?? ''));
    if (!address) throw new InvalidField('settings.smtpIn.address', 'must be an e-mail address');
    smtpIn = { address };
  }
  return { imap, smtp, backfillDays, ...(smtpIn ? { smtpIn } : {}) };
}

/** The channel's settings as the provider uses them (stored settings were validated on the way in). */
export function inboxSettings(settings: Record<string, unknown>): InboxSettings {
  if (!isRecord(settings.imap) || !isRecord(settings.smtp)) {
    throw new ProviderError('CHANNEL_MISCONFIGURED', 'the inbox channel has no imap or smtp settings', {
      retryable: false,
    });
  }
  const s = settings as unknown as InboxSettings;
  return {
    imap: s.imap,
    smtp: s.smtp,
    backfillDays: typeof s.backfillDays === 'number' ? s.backfillDays : DEFAULT_BACKFILL_DAYS,
    smtpIn: isRecord(settings.smtpIn) ? (settings.smtpIn as InboxSettings['smtpIn']) : null,
  };
}
