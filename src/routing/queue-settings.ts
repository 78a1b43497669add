/**
 * A line's queue: which routing rule, how many sessions an operator holds at once, how long an
 * offer waits for acceptance, when an idle session closes itself, and the business hours.
 * Stored in `lines.queue` (JSON), validated here on write and read with defaults.
 */
import { InvalidField } from '../errors.ts';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
type Weekday = (typeof WEEKDAYS)[number];

export interface BusinessHours {
  /** IANA time zone, e.g. "Europe/Moscow". */
  timezone: string;
  /** Open intervals per weekday, "HH:MM"–"HH:MM"; a missing day is closed. */
  days: Partial<Record<Weekday, [string, string][]>>;
  /** Sent once to a client who writes outside business hours. */
  autoReply?: string | null;
}

export interface QueueSettings {
  routingRule: string;
  maxSessionsPerOperator: number;
  /** An offer not accepted within this many seconds goes elsewhere; 0: assignments need no acceptance. */
  acceptTimeoutSeconds: number;
  /** No client message for this many minutes closes the session; 0: never. */
  completionTimeoutMinutes: number;
  returnToPreviousOperator: boolean;
  businessHours: BusinessHours | null;
  /**
   * A client silent (no message, typing, read or explicit presence) for this many seconds goes
   * offline (clientOffline); 0: silence never does (only an explicit offline); null: the server's
   * default (OMNILINE_CLIENT_OFFLINE_TIMEOUT_SECONDS).
   */
  clientOfflineTimeoutSeconds: number | null;
}

export const DEFAULT_QUEUE: QueueSettings = {
  routingRule: 'toAvailable',
  maxSessionsPerOperator: 5,
  acceptTimeoutSeconds: 0,
  completionTimeoutMinutes: 0,
  returnToPreviousOperator: false,
  businessHours: null,
  clientOfflineTimeoutSeconds: null,
};

/** The longest client silence timeout, a line's or the server default: one week. */
export const MAX_CLIENT_OFFLINE_SECONDS = 604_800;

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;

function intIn(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidField(path, `must be an integer from ${min} to ${max}`);
  }
  return v;
}

function businessHours(v: unknown): BusinessHours | null {
  if (v === null) return null;
  const path = 'queue.businessHours';
  if (typeof v !== 'object' || Array.isArray(v))
    throw new InvalidField(path, 'must be an object {timezone, days, autoReply}');
  const { timezone, days, autoReply } = v as Record<string, unknown>;
  if (typeof timezone !== 'string') throw new InvalidField(`${path}.timezone`, 'must be an IANA time zone');
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    throw new InvalidField(`${path}.timezone`, `unknown time zone "${timezone}"`);
  }
  if (typeof days !== 'object' || days === null || Array.isArray(days)) {
    throw new InvalidField(`${path}.days`, 'must map weekdays (mon…sun) to [["09:00","18:00"], …]');
  }
  for (const [day, intervals] of Object.entries(days)) {
    if (!WEEKDAYS.includes(day as Weekday))
      throw new InvalidField(`${path}.days.${day}`, 'is not a weekday (mon…sun)');
    if (!Array.isArray(intervals))
      throw new InvalidField(`${path}.days.${day}`, 'must be a list of ["HH:MM","HH:MM"]');
    intervals.forEach((iv: unknown, i: number) => {
      if (
        !Array.isArray(iv) ||
        iv.length !== 2 ||
        !iv.every((t) => typeof t === 'string' && HHMM.test(t)) ||
        iv[0] >= iv[1]
      ) {
        throw new InvalidField(
          `${path}.days.${day}[${i}]`,
          'must be ["HH:MM","HH:MM"] with start before end',
        );
      }
    });
  }
  if (
    autoReply !== undefined &&
    autoReply !== null &&
    (typeof autoReply !== 'string' || autoReply.length > 4000)
  ) {
    throw new InvalidField(`${path}.autoReply`, 'must be a text of at most 4000 characters');
  }
  return {
    timezone,
    days: days as BusinessHours['days'],
    autoReply: (autoReply as string | null | undefined) ?? null,
  };
}

/** Validates a queue patch (for PATCH /lines/:id) against the known rules. */
export function validateQueuePatch(
  patch: Record<string, unknown>,
  knownRules: string[],
): Partial<QueueSettings> {
  const out: Partial<QueueSettings> = {};
  for (const [key, v] of Object.entries(patch)) {
    const path = `queue.${key}`;
    switch (key) {
      case 'routingRule':
        if (typeof v !== 'string' || !knownRules.includes(v))
          throw new InvalidField(path, `must be one of ${knownRules.join(', ')}`);
        out.routingRule = v;
        break;
      case 'maxSessionsPerOperator':
        out.maxSessionsPerOperator = intIn(v, path, 1, 1000);
        break;
      case 'acceptTimeoutSeconds':
        out.acceptTimeoutSeconds = intIn(v, path, 0, 86_400);
        break;
      case 'completionTimeoutMinutes':
        out.completionTimeoutMinutes = intIn(v, path, 0, 525_600);
        break;
      case 'returnToPreviousOperator':
        if (typeof v !== 'boolean') throw new InvalidField(path, 'must be true or false');
        out.returnToPreviousOperator = v;
        break;
      case 'businessHours':
        out.businessHours = businessHours(v);
        break;
      case 'clientOfflineTimeoutSeconds':
        out.clientOfflineTimeoutSeconds = v === null ? null : intIn(v, path, 0, MAX_CLIENT_OFFLINE_SECONDS);
        break;
      default:
        throw new InvalidField(path, 'is not a queue setting');
    }
  }
  return out;
}

export function queueOf(stored: Record<string, unknown> | null | undefined): QueueSettings {
  return { ...DEFAULT_QUEUE, ...(stored as Partial<QueueSettings>) };
}

/** Whether `at` falls in the business hours (always true without them). */
export function isOpenAt(hours: BusinessHours | null, at: Date): boolean {
  if (!hours) return true;
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: hours.timezone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const day = get('weekday').toLowerCase().slice(0, 3) as Weekday;
  const time = `${get('hour')}:${get('minute')}`;
  return (hours.days[day] ?? []).some(([from, to]) => time >= from && time < to);
}
